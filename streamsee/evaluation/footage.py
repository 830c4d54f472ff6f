"""Both paths on real footage (../shared/media): does the top label match each clip's class,
and how much do clips that show none of the classes draw?"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import av
import cv2
import numpy as np

from streamsee.core.labels import CLASSES
from streamsee.live.analyser import Analyser
from streamsee.recognition.fcn import OBJECTNESS_WIDTH, WORKING_WIDTH

DEFAULT_MEDIA = Path("../shared/media")
# What each clip shows, from the media README (None: none of the ten classes).
CLIP_CLASSES = {
    "videos/car-detection.mp4": "automobile",
    "videos/car-turn.mp4": "automobile",
    "videos/dog.mp4": "dog",
    "videos/flamingo.mp4": "bird",
    "videos/horse_rider.mp4": "horse",
    "negatives/bottles.mp4": None,
    "negatives/people_indoor.mp4": None,
    "negatives/snowboarder.mp4": None,
    "photos/cat_chelsea.png": "cat",
    "photos/dog_bicycle.jpg": "dog",
    "photos/dogs_collage.jpg": "dog",
    "photos/eagle.jpg": "bird",
    "photos/horses.jpg": "horse",
    "photos/cars_street1.jpg": "automobile",
    "photos/cars_street2.jpg": "automobile",
    "negatives/beach.jpg": None,
    "negatives/bridge_night.jpg": None,
    "negatives/coffee.png": None,
    "negatives/foggy_forest.jpg": None,
    "negatives/meadow_mountains.jpg": None,
    "negatives/rocket.jpg": None,
}


def sample_frames(path: os.PathLike | str, count: int) -> list[np.ndarray]:
    """About `count` BGR frames spread evenly over the clip, decoded with PyAV (a photo: itself)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"clip not found: {str(path)!r}")
    if Path(path).suffix.lower() in (".jpg", ".jpeg", ".png"):
        return [cv2.imread(str(path))]
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        total = stream.frames or int(float(stream.duration * stream.time_base) * float(stream.average_rate))
        step = max(1, total // count)
        frames = []
        for index, frame in enumerate(container.decode(stream)):
            if index % step == 0:
                frames.append(frame.to_ndarray(format="bgr24"))
            if len(frames) == count:
                break
    return frames


def top_label(mode: str, result) -> str | None:
    """The path's main claim on a frame: the best box, or the largest region."""
    if not len(result):
        return None
    ranking = result.score if mode == "boxes" else result.area
    return CLASSES[result.class_id[int(np.argmax(ranking))]]


def evaluate_footage(media: os.PathLike | str = DEFAULT_MEDIA, frames_per_clip: int = 20,
                     proposals: str = "boundieboxies", working_width: int = WORKING_WIDTH,
                     objectness_width: int = OBJECTNESS_WIDTH) -> dict:
    media = Path(media)
    report = {}
    with Analyser("compare", proposals=proposals, working_width=working_width,
                  objectness_width=objectness_width) as analyser:
        for clip, expected in CLIP_CLASSES.items():
            frames = sample_frames(media / clip, frames_per_clip)
            tops: dict[str, list] = {"boxes": [], "segment": []}
            claims: dict[str, int] = {"boxes": 0, "segment": 0}
            claimed_area = []
            for frame in frames:
                for output in analyser(frame):
                    tops[output.mode].append(top_label(output.mode, output.result))
                    claims[output.mode] += len(output.result)
                    if output.mode == "segment":
                        claimed_area.append(float(output.result.area.sum()) if len(output.result) else 0.0)
            row = {"expected": expected, "frames": len(frames)}
            for mode, labels in tops.items():
                row[mode] = {"top_labels": dict(Counter(str(label) for label in labels).most_common(3)),
                             "claims_per_frame": round(claims[mode] / len(frames), 2)}
                if expected is not None:
                    right = sum(label == expected for label in labels)
                    claimed = sum(label is not None for label in labels)
                    row[mode]["top_is_class"] = round(right / len(frames), 3)
                    # the frames a path claims anything on, and how often its top claim is right there:
                    # a clip's frames need not all show its class (car-detection's cars drive through)
                    row[mode]["frames_claimed"] = claimed
                    row[mode]["right_when_claimed"] = round(right / claimed, 3) if claimed else None
            row["segment"]["claimed_area"] = round(float(np.mean(claimed_area)), 4)
            report[clip] = row
    return report


def render_footage_report(report: dict, console) -> None:
    from rich.table import Table

    table = Table(title="real footage: each path's top label per sampled frame")
    for column in ("clip", "shows", "frames", "boxes: top is class", "boxes: right when claimed", "boxes: claims/frame",
                   "boxes: top labels", "segment: top is class", "segment: right when claimed",
                   "segment: claims/frame", "segment: area claimed", "segment: top labels"):
        table.add_column(column)
    for clip, row in report.items():
        cells = [clip, str(row["expected"] or "none of the classes"), str(row["frames"])]
        for mode in ("boxes", "segment"):
            right_when_claimed = row[mode].get("right_when_claimed")
            cells += [f"{row[mode]['top_is_class']:.0%}" if "top_is_class" in row[mode] else "-",
                      "-" if right_when_claimed is None else
                      f"{right_when_claimed:.0%} of {row[mode]['frames_claimed']}",
                      f"{row[mode]['claims_per_frame']:.2f}"]
            if mode == "segment":
                cells.append(f"{row['segment']['claimed_area']:.1%}")
            cells.append(", ".join(f"{k} {v}" for k, v in row[mode]["top_labels"].items()))
        table.add_row(*cells)
    console.print(table)
