"""Smoothing over time: video is not a stack of unrelated photos.

Each path's result on a frame is blended with what the earlier frames said, so labels and scores do
not flicker and one frame's slip is outvoted:
- FCN path (HeatmapSmoother): an exponential moving average of two per-cell maps, the frame's
  decision (the class distribution of each labelled cell, background for the rest) and its
  probabilities; the class map and regions are made again from the averages: a cell is an object
  where the classes' votes together beat background's, of the class with the most.
- box path (BoxTracker): boxes are followed across frames by IoU; each track's box and per-class
  score are moving averages, and a track is shown once it has been seen on `confirm` frames.
- FCN path's coarse level (CoarseReuse): made on every third frame and reused on the two between.
All forget everything at a scene cut (SceneCut) or a change of frame size.

`keep` is the share of the running state each new frame keeps (0: off, the result as the path gave it).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from streamsee.core.labels import BACKGROUND_ID, NUM_CLASSES
from streamsee.core.result import Result
from streamsee.recognition.outline import Outliner
from streamsee.recognition.regions import MIN_AREA
from streamsee.recognition.segmenter import drop_classes, summarise

KEEP = 0.6  # the default share of the state a new frame keeps
# Mean Bhattacharyya distance of two frames' quarter histograms that means a new scene. On ../shared/media
# (frames 4 apart): within a clip at most 0.58, 99th percentiles 0.04-0.40; between clips' first frames
# at least 0.33, 5th percentile 0.48, median 0.71.
CUT_THRESHOLD = 0.5
MATCH_IOU = 0.3  # a box at least this close to a track continues it
CONFIRM = 2  # a track is shown once seen on this many frames
MAX_MISSED = 2  # a track not seen on more frames in a row than this is dropped
# The FCN path's coarse level (the box model over large windows: most of the path's time) is made on
# every COARSE_EVERY-th frame of a scene and reused on the frames between (CoarseReuse). Real footage with
# the class FCN at 128 (`evaluate --footage`, int8): every 2nd frame 0.480 / 0.107 (positive clips right /
# negative clips claimed), every 3rd 0.466 / 0.010; analysed frames 1 apart: 0.457 / 0.177 and 0.457 / 0.055
# (docs/experiments.md, 2026-12-07).
COARSE_EVERY = 3


def check_keep(keep: float) -> float:
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0 <= keep < 1:
        raise ValueError(f"smoothing must be a number from 0 (off) up to but not including 1, not {keep!r}")
    return float(keep)


class SceneCut:
    """Says whether a frame starts a new scene: the colour histograms (4x4x4 bins) of its four quarters
    differ from the last frame's by more than `threshold` (mean Bhattacharyya distance, 0..1), or its
    size differs. The first frame is a cut. Histograms barely move when the camera or the objects do."""

    def __init__(self, threshold: float = CUT_THRESHOLD):
        self.threshold = threshold
        self.last: list[np.ndarray] = []
        self.shape: tuple[int, ...] = ()

    def __call__(self, frame: np.ndarray) -> bool:
        small = cv2.resize(frame, (64, 48), interpolation=cv2.INTER_AREA)
        histograms = [cv2.calcHist([small[rows, cols]], [0, 1, 2], None, [4, 4, 4], [0, 256] * 3)
                      for rows in (slice(0, 24), slice(24, 48)) for cols in (slice(0, 32), slice(32, 64))]
        cut = (not self.last or frame.shape != self.shape
               or np.mean([cv2.compareHist(new, old, cv2.HISTCMP_BHATTACHARYYA)
                           for new, old in zip(histograms, self.last)]) > self.threshold)
        self.last, self.shape = histograms, frame.shape
        return bool(cut)


class HeatmapSmoother:
    """Moving averages of the FCN path's per-cell decision and probabilities; see the module docstring."""

    def __init__(self, keep: float = KEEP, min_area: float = MIN_AREA, outliner: Outliner | None = None):
        self.keep = check_keep(keep)
        self.min_area = min_area
        self.outliner = Outliner() if outliner is None else outliner
        self.votes: np.ndarray | None = None
        self.probabilities: np.ndarray | None = None

    def reset(self) -> None:
        self.votes = self.probabilities = None

    def __call__(self, result: Result, frame_shape: tuple[int, ...]) -> Result:
        if self.keep == 0 or result.probabilities is None:
            return result
        probabilities = result.probabilities
        votes = decision(result, frame_shape)
        if self.votes is None or self.votes.shape != votes.shape:
            self.votes, self.probabilities = votes, probabilities.copy()
        else:
            self.votes = self.keep * self.votes + (1 - self.keep) * votes
            self.probabilities = self.keep * self.probabilities + (1 - self.keep) * probabilities
        # an object where the classes' votes together beat background's, then the class with the most
        labels = self.votes[..., :NUM_CLASSES].argmax(axis=2).astype(np.uint8)
        labels[self.votes[..., :NUM_CLASSES].sum(axis=2) <= self.votes[..., NUM_CLASSES]] = BACKGROUND_ID
        labels = drop_classes(labels, self.probabilities, self.min_area, min_score=0.0)
        class_map = self.outliner(labels, self.votes[..., NUM_CLASSES], frame_shape)
        return summarise(class_map, labels, self.probabilities)


def decision(result: Result, frame_shape: tuple[int, ...]) -> np.ndarray:
    """Per cell of the result's maps, what the frame decided as a distribution over the ten and background:
    a labelled cell its class probabilities (normalised), any other cell background."""
    probabilities = result.probabilities
    height, width = probabilities.shape[:2]
    labels = cv2.resize(result.class_map, (width, height), interpolation=cv2.INTER_NEAREST)
    votes = np.zeros_like(probabilities)
    labelled = labels != BACKGROUND_ID
    classes = probabilities[labelled, :NUM_CLASSES]
    classes = classes / np.maximum(classes.sum(axis=1, keepdims=True), 1e-6)
    # the cell's own label first: where the class map's label is not its likeliest class, it still wins
    classes[np.arange(len(classes)), labels[labelled]] += 1.0
    votes[labelled, :NUM_CLASSES] = classes / 2
    votes[~labelled, NUM_CLASSES] = 1.0
    return votes


@dataclass
class Track:
    xyxy: np.ndarray  # (4,) float32, the moving average of its boxes
    scores: np.ndarray  # (10,) float32, the moving average of its per-class scores (0 on frames it was not seen)
    seen: int = 1  # frames it was matched on
    missed: int = 0  # frames in a row it was not


class BoxTracker:
    """Boxes followed across frames by IoU (greedy, closest first), each with moving averages of its box
    and class scores; a track shows once seen on `confirm` frames and goes after `max_missed` unseen ones."""

    def __init__(self, keep: float = KEEP, match_iou: float = MATCH_IOU, confirm: int = CONFIRM,
                 max_missed: int = MAX_MISSED):
        self.keep = check_keep(keep)
        self.match_iou, self.confirm, self.max_missed = match_iou, confirm, max_missed
        self.tracks: list[Track] = []

    def reset(self) -> None:
        self.tracks = []

    def __call__(self, result: Result) -> Result:
        if self.keep == 0:
            return result
        scores = np.zeros((len(result), NUM_CLASSES), np.float32)
        scores[np.arange(len(result)), result.class_id] = result.score
        matched = self._match(result.xyxy)
        for track_index, box_index in matched.items():
            track = self.tracks[track_index]
            track.xyxy = self.keep * track.xyxy + (1 - self.keep) * result.xyxy[box_index]
            track.scores = self.keep * track.scores + (1 - self.keep) * scores[box_index]
            track.seen, track.missed = track.seen + 1, 0
        for index, track in enumerate(self.tracks):
            if index not in matched:
                track.scores, track.missed = self.keep * track.scores, track.missed + 1
        taken = set(matched.values())
        self.tracks = [track for track in self.tracks if track.missed <= self.max_missed]
        self.tracks += [Track(result.xyxy[i].copy(), scores[i]) for i in range(len(result)) if i not in taken]
        shown = [track for track in self.tracks if track.seen >= self.confirm]
        shown.sort(key=lambda track: -track.scores.max())
        return Result(np.array([track.xyxy for track in shown], np.float32).reshape(-1, 4),
                      [int(track.scores.argmax()) for track in shown], [float(track.scores.max()) for track in shown])

    def _match(self, boxes: np.ndarray) -> dict[int, int]:
        """track index -> box index, greedily by IoU, at least match_iou."""
        if not self.tracks or not len(boxes):
            return {}
        from streamsee.recognition.box_ops import box_iou

        overlaps = box_iou(np.array([track.xyxy for track in self.tracks], np.float32), boxes)
        matched: dict[int, int] = {}
        for flat in np.argsort(-overlaps, axis=None):
            track_index, box_index = divmod(int(flat), len(boxes))
            if overlaps[track_index, box_index] < self.match_iou:
                break
            if track_index not in matched and box_index not in matched.values():
                matched[track_index] = box_index
        return matched


class CoarseReuse:
    """The FCN path's coarse level made on every `every`-th frame of a scene and reused between: a frame's
    largest windows change little from one analysed frame to the next, and they cost more than the rest
    of the path. Made afresh on a new scene and when the map's shape changes."""

    def __init__(self, every: int = COARSE_EVERY):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"the coarse level's period must be a whole number of frames >= 1, not {every!r}")
        self.every = every
        self.coarse: np.ndarray | None = None
        self.age = 0  # frames since it was made

    def reset(self) -> None:
        self.coarse, self.age = None, 0

    def __call__(self, segmenter, frame: np.ndarray) -> np.ndarray | None:
        """The coarse map for `frame`: the one kept, or a new one from `segmenter` (recognition.Segmenter)."""
        fresh = (self.coarse is None or self.age >= self.every - 1
                 or self.coarse.shape[:2] != segmenter.map_shape(frame.shape))
        if fresh:
            self.coarse, self.age = segmenter.coarse_map(frame), 0
        else:
            self.age += 1
        return self.coarse


class Smoother:
    """Smooths each path's results over the frames of one stream; `reset()` between unrelated images."""

    def __init__(self, keep: float = KEEP, cut_threshold: float = CUT_THRESHOLD):
        self.keep = check_keep(keep)
        self.cut = SceneCut(cut_threshold)
        self.heatmaps = HeatmapSmoother(keep)
        self.boxes = BoxTracker(keep)
        self.coarse = CoarseReuse()

    def reset(self) -> None:
        self.cut = SceneCut(self.cut.threshold)
        self.heatmaps.reset()
        self.boxes.reset()
        self.coarse.reset()

    def __call__(self, frame: np.ndarray, mode: str, result: Result, new_scene: bool) -> Result:
        """The smoothed `result` of path `mode` on `frame`; `new_scene`: what scene_cut(frame) said."""
        if self.keep == 0:
            return result
        path = self.boxes if mode == "boxes" else self.heatmaps
        if new_scene:
            path.reset()
        return self.boxes(result) if mode == "boxes" else self.heatmaps(result, frame.shape)

    def coarse_map(self, segmenter, frame: np.ndarray, new_scene: bool) -> np.ndarray | None:
        """The FCN path's coarse level for `frame`, made or reused (CoarseReuse); None with smoothing off."""
        if self.keep == 0:
            return None
        if new_scene:
            self.coarse.reset()
        return self.coarse(segmenter, frame)

    def scene_cut(self, frame: np.ndarray) -> bool:
        return self.keep > 0 and self.cut(frame)
