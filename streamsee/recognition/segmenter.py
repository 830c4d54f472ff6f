"""The FCN path: per-pixel classes for a frame, as a short sequence of named steps.

1. score the frame with the class FCN at its working width (fcn.ScoreMap), and average in the
   coarse level of the pyramid, the box model over large windows (windows.WindowScores);
2. find the object pixels from it (regions.ObjectFinder; with an objectness FCN too when asked:
   off by default, see OBJECTNESS below);
3. split the connected object regions and name each as a whole (regions.RegionNamer);
4. lay the labels onto the frame, their outline finer than the map's cells (outline.Outliner);
5. summarise: one region per class present (area fraction, mean probability, bounding box), and
   drop the regions whose mean probability is under min_score.

Each step takes only its own settings; Segmenter() builds the shipped defaults.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from streamsee.core.frames import check_frame
from streamsee.core.labels import BACKGROUND_ID
from streamsee.core.resource import Resource
from streamsee.core.result import Result
from streamsee.recognition.fcn import OUTPUT_STRIDE, WORKING_WIDTH, ScoreMap
from streamsee.recognition.outline import Outliner
from streamsee.recognition.regions import ObjectFinder, RegionNamer, bounding_box
from streamsee.recognition.variants import Choice
from streamsee.recognition.windows import WindowScores

# A region whose mean probability is under this is dropped. On the real development set (20 frames a
# clip, the box model trained on Tiny ImageNet, the window level on): 0 gives positive clips right 0.475,
# negative clips claimed 0.382, positive photos 0.762, negative photos 0.625; 0.5 gives 0.395 / 0.270 /
# 0.762 / 0.312; 0.6 gives 0.116 / 0.035 / 0.286 / 0.125 (docs/experiments.md, 2026-12-06).
MIN_SCORE = 0.5
# The objectness FCN (fine-tuned on composed scenes to say where objects are) is off by default. On the
# real development set (20 frames a clip, each on its own, regions under 0.5 dropped) it gave positive
# clips right 0.395, negative clips claimed 0.270, positive photos 0.762, negative photos 0.312; without
# it 0.420 / 0.158 / 0.667 / 0.125 in 57 % of the time. On composed scenes of pasted CIFAR-sized objects
# it is what finds them: mIoU 0.475 with it, 0.219 without (docs/experiments.md, 2026-12-07).
# Segmenter.at_widths(objectness_width=W) (the command line's --objectness-width W) turns it on.


class Segmenter(Resource):
    """Per-pixel classes for BGR uint8 frames of any size; closes the steps it is given.

    >>> with Segmenter() as segment:
    ...     result = segment(frame)     # Result with class_map, probabilities, one box per class
    >>> Segmenter(objects=ObjectFinder(max_background=0.3), outliner=Outliner(None))  # the objectness FCN on
    >>> Segmenter(coarse=False, min_score=0.0)  # the class FCN's level alone, every region kept
    """

    def __init__(self, scores: ScoreMap | None = None, objects: ObjectFinder | None = None,
                 namer: RegionNamer | None = None, outliner: Outliner | None = None,
                 coarse: WindowScores | Literal[False] | None = None, min_score: float = MIN_SCORE):
        if not 0 <= min_score < 1:
            raise ValueError(f"min_score must be in [0, 1), got {min_score!r}")
        self.min_score = min_score  # regions whose mean probability is under this are dropped
        steps = []
        try:
            # the pyramid's coarse level, averaged into the class FCN's probabilities (False: one level)
            self.coarse = WindowScores() if coarse is None else coarse or None
            steps += [self.coarse] if self.coarse is not None else []
            self.scores = ScoreMap() if scores is None else scores
            steps.append(self.scores)
            self.objects = ObjectFinder(None) if objects is None else objects  # the class FCN's own claims
            steps.append(self.objects)
            self.namer = RegionNamer() if namer is None else namer
        except Exception:
            for step in steps:
                step.close()
            raise
        self.outliner = Outliner() if outliner is None else outliner

    @classmethod
    def at_widths(cls, working_width: int = WORKING_WIDTH, objectness_width: int | None = None,
                  models: dict[str, Choice] | None = None) -> Segmenter:
        """The shipped steps with the class FCN at this working width, and the objectness FCN at its own
        if one is given (None: off, the default); `models`: the file and threads of "fcn", "objectness"
        and "boxes" (recognition.variants; by default the shipped int8 exports on every core)."""
        models = models or {}
        fcn, objectness, boxes = (models.get(name) for name in ("fcn", "objectness", "boxes"))
        steps = []
        try:
            steps.append(ScoreMap(fcn.path, working_width, fcn.threads) if fcn else ScoreMap(working_width=working_width))
            if objectness_width is None:
                steps.append(ObjectFinder(None))
            else:
                steps.append(ObjectFinder(objectness.path, objectness_width, threads=objectness.threads) if objectness
                             else ObjectFinder(objectness_width=objectness_width))
            steps.append(RegionNamer(boxes.path, threads=boxes.threads) if boxes else RegionNamer())
            steps.append(WindowScores(boxes.path, threads=boxes.threads) if boxes else WindowScores())
            return cls(*steps[:3], coarse=steps[3])
        except Exception:
            for step in steps:
                step.close()
            raise

    @property
    def working_width(self) -> int:
        return self.scores.working_width

    @property
    def objectness_width(self) -> int | None:
        """The objectness FCN's working width; None where it is off."""
        return None if self.objects.objectness is None else self.objects.objectness_width

    def working_size(self, frame_shape: tuple[int, ...]) -> tuple[int, int]:
        """(height, width) the class FCN sees for a frame of this shape: aspect kept, multiples of 8."""
        return self.scores.working_size(frame_shape)

    def close(self) -> None:
        for step in (self.namer, self.objects, self.scores, self.coarse):
            if step is not None:
                step.close()

    def map_shape(self, frame_shape: tuple[int, ...]) -> tuple[int, int]:
        """(height, width) of the probability maps for a frame of this shape."""
        height, width = self.working_size(frame_shape)
        return height // OUTPUT_STRIDE, width // OUTPUT_STRIDE

    def coarse_map(self, frame: np.ndarray) -> np.ndarray | None:
        """The coarse level's probabilities (h, w, 11) on this frame's map cells (None where it is off)."""
        return None if self.coarse is None else self.coarse(frame, self.map_shape(frame.shape))

    def __call__(self, frame: np.ndarray, coarse: np.ndarray | None = None) -> Result:
        """The frame's Result; `coarse`: its coarse level made beforehand (coarse_map, perhaps on an earlier
        frame of the same scene: live.smoothing.CoarseReuse) instead of now."""
        check_frame(frame)
        working = self.scores.shrink(frame)
        probabilities = self.scores(working)
        if coarse is None and self.coarse is not None:
            coarse = self.coarse(frame, probabilities.shape[:2])
        if coarse is not None:
            if coarse.shape[:2] != probabilities.shape[:2]:
                raise ValueError(f"coarse map of shape {coarse.shape} for maps of {probabilities.shape}")
            probabilities = fuse(probabilities, coarse)
        objects, background, outline = self.objects(frame, working, probabilities)
        labels = self.namer(frame, objects, background, probabilities)
        labels = drop_classes(labels, probabilities, self.namer.min_area, self.min_score)
        class_map = self.outliner(labels, outline, frame.shape)
        return summarise(class_map, labels, probabilities)


def drop_classes(labels: np.ndarray, probabilities: np.ndarray, min_area: float, min_score: float) -> np.ndarray:
    """The labels (map cells, BACKGROUND_ID where none) with the classes that cover less than min_area of
    the map, or whose mean probability over their cells is under min_score, made background."""
    cells = np.bincount(labels.ravel(), minlength=BACKGROUND_ID + 1)
    dropped = [class_id for class_id in np.nonzero(cells[:BACKGROUND_ID])[0].tolist() if cells[class_id] < min_area * labels.size
               or probabilities[..., class_id][labels == class_id].mean() < min_score]
    if dropped:
        labels = np.where(np.isin(labels, dropped), BACKGROUND_ID, labels).astype(np.uint8)
    return labels


def fuse(fine: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """The mean of two levels' probabilities on the same cells."""
    return (fine + coarse) / 2


def summarise(class_map: np.ndarray, labels: np.ndarray, probabilities: np.ndarray) -> Result:
    """The Result: one region per class in the frame-size class map, with its box, its share of the
    frame and its mean probability over the map cells labelled with it."""
    pixels = np.bincount(class_map.ravel(), minlength=BACKGROUND_ID + 1)  # per class, at the frame's size
    boxes, class_ids, scores, areas = [], [], [], []
    for class_id in np.nonzero(pixels[:BACKGROUND_ID])[0].tolist():
        boxes.append(bounding_box(class_map == class_id))
        class_ids.append(class_id)
        scores.append(float(probabilities[..., class_id][labels == class_id].mean()))
        areas.append(float(pixels[class_id] / class_map.size))
    return Result(np.array(boxes, np.float32).reshape(-1, 4), class_ids, scores, areas, class_map, probabilities)


def peak_probability(result: Result) -> np.ndarray:
    """Per region of an FCN result, the highest probability of its class anywhere in the frame."""
    if result.probabilities is None:
        return np.zeros(0, np.float32)
    return np.array([result.probabilities[..., c].max() for c in result.class_id], np.float32)
