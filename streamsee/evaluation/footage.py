"""Both paths on the real development set (../shared/media, every file that labels.csv lists).

Scoring, per file and path, on the analysed frames (a photo is one frame):
- a file showing some of the ten classes: the share of frames whose highest-scored claim is one of
  its classes (a frame with no claim counts as wrong);
- a file showing none of them: the share of frames with any claim at all.
Then, per path, the means over the positive and the negative videos and photos, and on how many
positive videos the top claim is right on most frames.

With smoothing (`smooth` > 0, as the main job runs video) each scored frame of a clip, the first
included, is preceded by LEAD frames LEAD_GAP apart, analysed but not scored, as a live run at a few
frames a second would see them, and the smoothed state runs through the whole clip; photos are
analysed as stills.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from streamsee.core.labels import CLASSES
from streamsee.core.result import Result
from streamsee.live.analyser import Analyser
from streamsee.recognition.fcn import WORKING_WIDTH

DEFAULT_MEDIA = Path("../shared/media")
LABELS = "labels.csv"
PATHS = ("boxes", "segment")
KINDS = ("video", "photo")
LEAD = 2  # with smoothing: frames analysed (not scored) before each scored one
LEAD_GAP = 4  # frames between them (about 0.13 s at 30 fps: a path at 7.5 analysed frames a second)


@dataclass(frozen=True)
class MediaFile:
    path: str  # relative to the media folder
    classes: tuple[str, ...]  # the CIFAR-10 classes it shows; empty: none of the ten
    kind: str  # "video" or "photo"


def read_labels(media: os.PathLike | str) -> list[MediaFile]:
    """The files labels.csv lists, with their classes; a bad row is an error naming it."""
    table = Path(media) / LABELS
    if not table.is_file():
        raise FileNotFoundError(f"no {LABELS} in the media folder {str(media)!r}")
    files = []
    with table.open(newline="") as rows:
        for number, row in enumerate(csv.DictReader(rows), start=2):
            classes = tuple((row.get("classes") or "").split())
            kind = (row.get("kind") or "").strip()
            unknown = [name for name in classes if name not in CLASSES]
            if not row.get("path") or kind not in KINDS or unknown:
                raise ValueError(f"{table}, line {number}: needs a path, a kind (video or photo) and CIFAR-10 classes, "
                                 f"got {dict(row)!r}")
            files.append(MediaFile(row["path"], classes, kind))
    return files


def sample_frames(path: os.PathLike | str, count: int, lead: int = 0, gap: int = LEAD_GAP) -> list[tuple[np.ndarray, bool]]:
    """About `count` BGR frames spread evenly over the clip, decoded with PyAV (a photo: itself), each
    preceded by `lead` frames `gap` apart (so the first scored one is frame lead * gap, not the stream's
    first, which a tracker has not seen confirmed); pairs (frame, scored), in the clip's order."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"clip not found: {str(path)!r}")
    if Path(path).suffix.lower() in (".jpg", ".jpeg", ".png"):
        image = cv2.imread(str(path))
        if image is None:
            raise ValueError(f"not a readable image: {str(path)!r}")
        return [(image, True)]
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        total = stream.frames or int(float(stream.duration * stream.time_base) * float(stream.average_rate))
        first = min(lead * gap, max(0, total - count))  # a clip too short for the leads gets fewer before its first
        step = max(1, (total - first) // count)
        scored = {first + k * step for k in range(count)}
        wanted = scored | {index - j * gap for index in scored for j in range(1, lead + 1)}
        frames, last = [], max(scored)
        for index, frame in enumerate(container.decode(stream)):
            if index in wanted:
                frames.append((frame.to_ndarray(format="bgr24"), index in scored))
            if index == last:
                break
    return frames


def top_label(result: Result) -> str | None:
    """A path's highest-scored claim on a frame (None: no claim)."""
    if not len(result):
        return None
    return CLASSES[result.class_id[int(np.argmax(result.score))]]


def score_file(item: MediaFile, tops: list[str | None], claims: list[int], top_scores: list[float] | None = None) -> dict:
    """One path on one file: the score (module docstring), its top labels and claims per frame, and
    (given `top_scores`) each frame's top claim and its score, for sweeping a threshold afterwards."""
    if item.classes:
        score = sum(label in item.classes for label in tops) / len(tops)
    else:
        score = sum(label is not None for label in tops) / len(tops)
    return {"score": round(score, 3), "top_labels": dict(Counter(str(label) for label in tops).most_common(3)),
            "claims_per_frame": round(sum(claims) / len(tops), 2),
            **({"per_frame": [[label, round(score, 4)] for label, score in zip(tops, top_scores)]} if top_scores else {})}


def summarise(files: list[MediaFile], rows: dict, paths: tuple[str, ...] = PATHS) -> dict:
    """Per path: the mean score over positive and negative videos and photos, and the positive videos
    whose top claim is right on most of their frames."""
    summary = {}
    for path in paths:
        figures = {}
        for kind in KINDS:
            for positive in (True, False):
                scores = [rows[item.path][path]["score"] for item in files
                          if item.kind == kind and bool(item.classes) == positive]
                name = f"{'positive' if positive else 'negative'}_{kind}s"
                figures[name] = round(float(np.mean(scores)), 3) if scores else None
                figures[f"{name}_count"] = len(scores)
        figures["positive_videos_mostly_right"] = sum(rows[item.path][path]["score"] > 0.5 for item in files
                                                      if item.kind == "video" and item.classes)
        summary[path] = figures
    return summary


def at_threshold(report: dict, path: str, min_score: float) -> dict:
    """The summary `path` would have had with claims under `min_score` dropped, from a report made
    with a lower one (its per-frame top claims); exact for the box path without smoothing."""
    files, rows = [], {}
    for name, row in report["files"].items():
        item = MediaFile(name, tuple(row["classes"]), row["kind"])
        tops = [label if score >= min_score else None for label, score in row[path]["per_frame"]]
        files.append(item)
        rows[name] = {path: score_file(item, tops, [label is not None for label in tops])}
    return summarise(files, rows, paths=(path,))[path]


def evaluate_footage(media: os.PathLike | str = DEFAULT_MEDIA, frames_per_clip: int = 20,
                     proposals: str = "boundieboxies", working_width: int = WORKING_WIDTH,
                     objectness_width: int | None = None, smooth: float = 0.0, min_score: float | None = None,
                     runtime: str = "auto", analyser: Analyser | None = None) -> dict:
    """Both paths on every file of the media folder's labels.csv: {"files": {path: row}, "summary": ...}.
    `analyser`: one made beforehand instead of one from the settings (its paths are scored); it is closed."""
    files = read_labels(media)
    rows = {}
    if analyser is None:
        analyser = Analyser("compare", proposals=proposals, working_width=working_width,
                            objectness_width=objectness_width, smooth=smooth, min_score=min_score, runtime=runtime)
    smooth = analyser.smoother.keep
    paths = analyser.modes
    with analyser:
        for item in files:
            still = item.kind == "photo"
            analyser.smoother.reset()
            frames = sample_frames(Path(media) / item.path, frames_per_clip, lead=LEAD if smooth and not still else 0)
            tops: dict[str, list] = {path: [] for path in paths}
            claims: dict[str, list] = {path: [] for path in paths}
            top_scores: dict[str, list] = {path: [] for path in paths}
            for frame, scored in frames:
                outputs = analyser(frame, still=still)
                if not scored:
                    continue
                for output in outputs:
                    tops[output.mode].append(top_label(output.result))
                    claims[output.mode].append(len(output.result))
                    top_scores[output.mode].append(float(output.result.score.max(initial=0.0)))
            rows[item.path] = {"classes": list(item.classes), "kind": item.kind, "frames": len(tops[paths[0]]),
                               **{path: score_file(item, tops[path], claims[path], top_scores[path]) for path in paths}}
    exports = {name: choice.path.name for name, choice in analyser.models.items()}
    return {"frames_per_clip": frames_per_clip, "smooth": smooth, "min_score": min_score, "exports": exports, "files": rows,
            "summary": summarise(files, rows, paths)}


def render_footage_report(report: dict, console) -> None:
    from rich.table import Table

    table = Table(title="real footage, per file: positives = frames whose top claim is right, "
                        "negatives = frames with any claim")
    for column in ("file", "shows", "frames", "boxes", "boxes: top labels", "segment", "segment: top labels"):
        table.add_column(column)
    for name, row in report["files"].items():
        cells = [name, " ".join(row["classes"]) or "none of the ten", str(row["frames"])]
        for path in PATHS:
            cells += [f"{row[path]['score']:.0%}", ", ".join(f"{k} {v}" for k, v in row[path]["top_labels"].items())]
        table.add_row(*cells)
    console.print(table)
    summary = Table(title="means (higher is better for positives, lower for negatives)")
    for column in ("path", "positive videos: right", "negative videos: claimed", "positive photos: right",
                   "negative photos: claimed", "positive videos mostly right"):
        summary.add_column(column, justify="right")
    for path, figures in report["summary"].items():
        means = ["-" if figures[name] is None else f"{figures[name]:.2f} ({figures[name + '_count']})"
                 for name in ("positive_videos", "negative_videos", "positive_photos", "negative_photos")]
        summary.add_row(path, *means, f"{figures['positive_videos_mostly_right']} of {figures['positive_videos_count']}")
    console.print(summary)
