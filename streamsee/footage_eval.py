"""Both paths on real footage (../shared/media): does the top label match each clip's class,
and how much do clips that show none of the classes draw?"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import av
import numpy as np

from .analyse import Analyser
from .labels import CLASSES

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
}


def sample_frames(path: os.PathLike | str, count: int) -> list[np.ndarray]:
    """About `count` BGR frames spread evenly over the clip, decoded with PyAV."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="bgr24") for frame in container.decode(stream)]
    step = max(1, len(frames) // count)
    return frames[::step][:count]


def top_label(mode: str, result) -> str | None:
    """The path's main claim on a frame: the best box, or the largest region."""
    if not len(result):
        return None
    ranking = result.score if mode == "boxes" else result.area
    return CLASSES[result.class_id[int(np.argmax(ranking))]]


def evaluate_footage(media: os.PathLike | str = DEFAULT_MEDIA, frames_per_clip: int = 20,
                     proposals: str = "boundieboxies", working_width: int = 224) -> dict:
    media = Path(media)
    report = {}
    with Analyser("compare", proposals=proposals, working_width=working_width) as analyser:
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
                    row[mode]["top_is_class"] = round(sum(label == expected for label in labels) / len(frames), 3)
            row["segment"]["claimed_area"] = round(float(np.mean(claimed_area)), 4)
            report[clip] = row
    return report
