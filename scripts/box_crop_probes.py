"""Other ways of deciding on the box path's crops, replayed offline on the real development set.

    python scripts/box_crop_probes.py record [--box-model PATH ...] > /dev/null   # writes --crops
    python scripts/box_crop_probes.py replay RULE [--thresholds 0.85,0.9,0.94] [--low 0.9,0.8] [--floors 0.3,0.5]
        [--min-sides 0.2,0.3] [--inside 0.6,0.8]

`record` runs the box path's steps on every frame `evaluate --footage` analyses (smoothed: two lead frames
before each scored one): the box path's candidates (BoxDetector.candidates: the large boxes and the likeliest
proposals), each crop's eleven probabilities by the shipped box model and by each extra `--box-model`, and its ten
by the shipped classifier; into an .npz (`--crops`, default runs/box_crops.npz). `replay` applies a rule to
those probabilities, then per-class NMS and live.smoothing.BoxTracker (reset at scene cuts) as the box path
does, and scores the frames as `evaluate --footage` does. Rules (docs/experiments.md, 2026-12-07):
- shipped: the box model's likeliest class and its probability (gives the shipped figures);
- classifier-names: the classifier's class, scored by the box model's not-background times its probability;
- product / mean: the box model's ten (renormalised) and the classifier's combined, times not-background;
- hysteresis: boxes from each --low threshold only continue tracks that a box at the threshold began;
- floor: tracks whose smoothed score fell under each --floors value hidden;
- ensemble: the mean of the shipped box model's probabilities and each recorded extra model's;
- min-side: the shipped rule without crops whose shorter side is under each --min-sides share of the frame's;
- inside: the shipped rule without boxes that have each --inside share of their area inside a larger box of
  another class.
"""

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from streamsee.core.labels import CLASSES, NUM_CLASSES
from streamsee.core.result import Result
from streamsee.evaluation.footage import LEAD, MediaFile, read_labels, sample_frames, score_file, summarise
from streamsee.live.smoothing import KEEP, BoxTracker, SceneCut
from streamsee.recognition.boxes import DEFAULT_BOX_MODEL, NMS_IOU, BoxDetector, crop_boxes, keep_confident
from streamsee.recognition.classifier import Classifier


def record(media: Path, frames_per_clip: int, extra_models: list[str], out: Path) -> None:
    arrays: dict[str, np.ndarray] = {}
    with BoxDetector() as detect, Classifier() as classifier, ExitStack() as stack:
        extras = [stack.enter_context(Classifier(path)) for path in extra_models]
        for number, item in enumerate(read_labels(media)):
            cut, rows = SceneCut(), []
            for frame, scored in sample_frames(media / item.path, frames_per_clip, lead=0 if item.kind == "photo" else LEAD):
                boxes = detect.candidates(frame, detect.propose(frame))
                models = (detect.classifier, classifier, *extras)
                crops = {side: crop_boxes(frame, boxes, side) for side in {model.input_size for model in models}}
                rows.append([boxes, *(model.predict(crops[model.input_size]) for model in models),  # each at its own side
                             np.full(len(boxes), scored), np.full(len(boxes), cut(frame))])
            counts = [len(row[0]) for row in rows]
            names = ["xyxy", "box", "classifier", *(f"extra{i}" for i in range(len(extras))), "scored", "cut"]
            for index, name in enumerate(names):
                arrays[f"{number}/{name}"] = np.concatenate([row[index] for row in rows])
            arrays[f"{number}/counts"] = np.array(counts)
            arrays[f"{number}/file"] = np.array([item.path, item.kind, " ".join(item.classes)])
            print(item.path, len(rows), file=sys.stderr)
    np.savez_compressed(out, **arrays)


def frames_of(recorded, number: int):
    """Each recorded frame of file `number`: a dict of its arrays."""
    names = {key.split("/")[1] for key in recorded.files if key.startswith(f"{number}/")} - {"counts", "file"}
    ends = np.cumsum(recorded[f"{number}/counts"])
    columns = {name: recorded[f"{number}/{name}"] for name in names}
    for start, end in zip(np.r_[0, ends[:-1]], ends):
        yield {name: column[start:end] for name, column in columns.items()}


class HysteresisTracker(BoxTracker):
    """Boxes under `start` only continue tracks; new tracks begin at `start` or over."""

    def __init__(self, start: float):
        super().__init__(KEEP)
        self.start = start

    def __call__(self, result: Result) -> Result:
        matched = set(self._match(result.xyxy).values())
        keep = np.array([i in matched or result.score[i] >= self.start for i in range(len(result))], bool)
        return super().__call__(result[keep])


def labels_and_scores(rule: str, frame: dict) -> tuple[np.ndarray, np.ndarray]:
    box, classifier = frame["box"], frame["classifier"]
    not_background = 1 - box[:, NUM_CLASSES]
    ten = box[:, :NUM_CLASSES] / np.maximum(not_background[:, None], 1e-6)
    if rule == "classifier-names":
        return classifier.argmax(1), not_background * classifier.max(1)
    if rule in ("product", "mean"):
        both = np.sqrt(ten * classifier) if rule == "product" else (ten + classifier) / 2
        both /= both.sum(axis=1, keepdims=True)
        return both.argmax(1), not_background * both.max(1)
    if rule == "ensemble":
        extras = [frame[name] for name in sorted(frame) if name.startswith("extra")]
        if not extras:
            raise SystemExit("ensemble: record with --box-model first")
        box = (box + sum(extras)) / (1 + len(extras))
    return box[:, :NUM_CLASSES].argmax(1), box[:, :NUM_CLASSES].max(1)


def inside_others(result: Result, share: float) -> np.ndarray:
    """Mask of the boxes with at least `share` of their area inside a larger box of another class."""
    xyxy = result.xyxy
    area = np.prod(xyxy[:, 2:] - xyxy[:, :2], axis=1)
    top_left = np.maximum(xyxy[:, None, :2], xyxy[None, :, :2])
    bottom_right = np.minimum(xyxy[:, None, 2:], xyxy[None, :, 2:])
    overlap = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    other = (result.class_id[:, None] != result.class_id[None, :]) & (area[None, :] > area[:, None])
    return ((overlap >= share * area[:, None]) & other).any(axis=1)


def replay(recorded, rule: str, threshold: float, low: float | None = None, floor: float = 0.0,
           min_side: float = 0.0, inside: float | None = None) -> str:
    """The footage figures of `rule` at `threshold`; `min_side`: crops whose shorter side is under this share of
    the frame's shorter side left out; `inside`: boxes with that share of their area inside a larger box of
    another class left out."""
    items, rows = [], {}
    for number in range(len({key.split("/")[0] for key in recorded.files})):
        path, kind, classes = recorded[f"{number}/file"].tolist()
        item = MediaFile(path, tuple(classes.split()), kind)
        tracker, tops = (HysteresisTracker(threshold) if low is not None else BoxTracker(KEEP)), []
        for frame in frames_of(recorded, number):
            label, score = labels_and_scores(rule, frame)
            video = item.kind == "video"
            if min_side:
                frame_side = frame["xyxy"][0, 2:].min()  # the first crop is the whole frame
                score = np.where((frame["xyxy"][:, 2:] - frame["xyxy"][:, :2]).min(axis=1) >= min_side * frame_side, score, 0.0)
            result = keep_confident(frame["xyxy"], label, score, low if low is not None and video else threshold, NMS_IOU)
            if inside is not None and len(result):
                result = result[~inside_others(result, inside)]
            if video:
                if frame["cut"][:1].any():
                    tracker.reset()
                result = tracker(result)
                result = result[result.score >= floor]
            if frame["scored"][:1].any():
                tops.append(CLASSES[result.class_id[int(np.argmax(result.score))]] if len(result) else None)
        items.append(item)
        rows[item.path] = {"boxes": score_file(item, tops, [top is not None for top in tops])}
    s = summarise(items, rows, paths=("boxes",))["boxes"]
    return (f"{s['positive_videos']:.3f} / {s['negative_videos']:.3f} / {s['positive_photos']:.3f} / "
            f"{s['negative_photos']:.3f} ({s['positive_videos_mostly_right']})")


# rules that sweep one setting of replay(): the option holding its values, replay's keyword, how a line names it
SWEPT = {"hysteresis": ("low", "low", "continued from {:.2f}"), "floor": ("floors", "floor", "shown from {:.2f}"),
         "min-side": ("min_sides", "min_side", "crops from {:.2f} of the frame"),
         "inside": ("inside", "inside", "dropped {:.2f} inside")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=("record", "replay"))
    parser.add_argument("rule", nargs="?", default="shipped",
                        choices=("shipped", "classifier-names", "product", "mean", "hysteresis", "floor", "ensemble",
                                 "min-side", "inside"))
    parser.add_argument("--media", default="../shared/media")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--crops", default="runs/box_crops.npz")
    parser.add_argument("--box-model", action="append", default=[], help="record: another box model's probabilities too")
    parser.add_argument("--thresholds", default="0.85,0.9,0.92,0.94,0.96")
    parser.add_argument("--low", default="0.9,0.8,0.6", help="hysteresis: the thresholds that continue tracks")
    parser.add_argument("--floors", default="0.3,0.5,0.7,0.9", help="floor: the least smoothed score shown")
    parser.add_argument("--min-sides", default="0.1,0.15,0.2,0.3", help="min-side: the least crop side, a share of the frame's")
    parser.add_argument("--inside", default="0.6,0.8,0.95",
                        help="inside: the share of a box's area inside a larger box of another class that drops it")
    args = parser.parse_args()
    if args.action == "record":
        record(Path(args.media), args.frames, args.box_model, Path(args.crops))
        return
    recorded = np.load(args.crops)
    print(f"rule {args.rule} (default box model {DEFAULT_BOX_MODEL.name}): positive clips right / negative clips claimed / "
          "positive photos right / negative photos claimed (positive clips mostly right)")
    for threshold in (float(t) for t in args.thresholds.split(",")):
        if args.rule in SWEPT:  # the shipped rule with one more setting, over its values
            option, keyword, said = SWEPT[args.rule]
            for value in (float(t) for t in getattr(args, option).split(",")):
                print(f"{threshold:.2f} {said.format(value)}: {replay(recorded, 'shipped', threshold, **{keyword: value})}")
        else:
            print(f"{threshold:.2f}: {replay(recorded, args.rule, threshold)}")


if __name__ == "__main__":
    main()
