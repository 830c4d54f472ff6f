"""The FCN path's middle steps: which pixels are objects (ObjectFinder), and each connected object
region split where it holds two objects and named as a whole (RegionNamer).

A pixel is an object where the class FCN's likeliest label is a class and its background
probability is below `class_max_background`, or the objectness FCN's background probability is
below `max_background` (calibrated). A connected object region that holds two or more cores (pixels
surer still, below `split_background`) is split between them: two objects side by side. Each region
is then named by the mean of the box model's class probabilities for the region's box (the shared
classifier with a background class, on the region resized to its 32-px input: the region's box, or
the box of the region with its thin spurs opened off, `naming_opening`, whichever looks less like
background) and the class FCN's over the region's pixels; a region the box model calls background
is dropped.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from streamsee.core.calibration import read_calibration
from streamsee.core.labels import BACKGROUND_ID, NUM_CLASSES
from streamsee.core.resource import Resource
from streamsee.recognition.boxes import DEFAULT_BOX_MODEL, crop_boxes
from streamsee.recognition.classifier import Classifier
from streamsee.recognition.fcn import DEFAULT_OBJECTNESS, OBJECTNESS_WIDTH, ScoreMap, check_width, shrink

CALIBRATION = DEFAULT_OBJECTNESS.parent / "fcn_calibration.json"  # made by `streamsee train fcn`
FALLBACK_MAX_BACKGROUND = 0.1
MIN_AREA = 0.002  # regions (and classes) covering less of the frame are dropped
# The class FCN claims a pixel where its likeliest label is a class and its background probability
# is below this (1, the default: wherever its likeliest label is a class). 0.3 measured: 0.529 against
# 0.524 held out, but car-turn.mp4 right on 55 % of frames against 70 % (docs/experiments.md).
CLASS_MAX_BACKGROUND = 1.0
# A region splits where it holds two or more cores (pixels with a background probability below this,
# each at least min_area) joined by less sure pixels: two objects side by side, each named on its own.
SPLIT_BACKGROUND = 0.03
# A region is named from two crops, the box of the whole region and that of the region opened with a
# square of this many map cells (40 px on a 640-px frame: thin spurs of claimed pixels stretch a box over
# background), whichever the box model finds less like background. Dev scenes (test images the
# evaluation's scenes do not use, on the calibration photos): 0.536 to 0.567; the opened box alone, held
# out 0.547 to 0.581, but real footage lost its claim on cat_chelsea.png.
NAMING_OPENING = 5


def calibrated_max_background(calibration: Path | None = None) -> float:
    """The objectness FCN's background probability under which a pixel is an object, as calibrated
    (in CALIBRATION unless another file is given)."""
    value = read_calibration(calibration or CALIBRATION, "max_background", (int, float), "a number")
    return FALLBACK_MAX_BACKGROUND if value is None else float(value)


def check_probability(name: str, value: float) -> None:
    if not 0 < value <= 1:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")


class ObjectFinder(Resource):
    """Object pixels of a frame, from the class FCN's probabilities and the objectness FCN's.

    objectness_model=None: object pixels (and the outline) from the class FCN alone.
    """

    def __init__(self, objectness_model: os.PathLike | str | None = DEFAULT_OBJECTNESS,
                 objectness_width: int = OBJECTNESS_WIDTH, max_background: float | None = None,
                 class_max_background: float = CLASS_MAX_BACKGROUND, threads: int | None = None):
        check_width("objectness_width", objectness_width)
        max_background = calibrated_max_background() if max_background is None else max_background
        check_probability("max_background", max_background)
        check_probability("class_max_background", class_max_background)
        self.objectness_width = objectness_width
        self.max_background = max_background  # objectness: a pixel is an object where P(background) is below this
        self.class_max_background = class_max_background  # the class FCN's own claims: where its P(background) is below this
        self.objectness = None if objectness_model is None else ScoreMap(objectness_model, objectness_width, threads)

    def close(self) -> None:
        if self.objectness is not None:
            self.objectness.close()

    def __call__(self, frame: np.ndarray, working: np.ndarray,
                 probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Object mask (h, w), each pixel's background probability, and the background probability the
        outline follows. The mask: the class FCN's likeliest label a class (and its background
        probability below class_max_background), or the objectness FCN's (at its own working width,
        its map shrunk to the class FCN's) below max_background. The background probability: the class
        FCN's, or the objectness FCN's where it is surer of an object; the outline's: the objectness
        FCN's (the class FCN's where there is none). `working`: the frame as the class FCN saw it
        (reused when both FCNs share a working width)."""
        background = probabilities[..., NUM_CLASSES]
        # a class strictly likelier than background: the int8 FCN's logits often tie, and a tie is no claim
        objects = (probabilities[..., :NUM_CLASSES].max(axis=2) > background) & (background < self.class_max_background)
        if self.objectness is None:
            return objects, background, background
        if working.shape[2] != self.objectness_width:
            working = shrink(frame, self.objectness_width)
        outline = self.objectness(working)[..., NUM_CLASSES]  # at the objectness FCN's own size
        objectness_background = outline
        if outline.shape != background.shape:
            objectness_background = cv2.resize(outline, background.shape[::-1], interpolation=cv2.INTER_AREA)
        objects |= objectness_background < self.max_background
        return objects, np.minimum(background, objectness_background), outline


class RegionNamer(Resource):
    """A class map (at the score maps' size) of the connected object regions, each named as a whole.

    region_model=None: each object pixel keeps the class FCN's own class.
    """

    def __init__(self, region_model: os.PathLike | str | None = DEFAULT_BOX_MODEL, min_area: float = MIN_AREA,
                 split_background: float = SPLIT_BACKGROUND, naming_opening: int = NAMING_OPENING,
                 threads: int | None = None):
        if not 0 <= split_background <= 1:
            raise ValueError(f"split_background must be in [0, 1] (0: regions never split), got {split_background!r}")
        if not (isinstance(naming_opening, int) and naming_opening >= 0):
            raise ValueError(f"naming_opening must be a whole number of map cells, 0 or more (0: the whole "
                             f"region's box), got {naming_opening!r}")
        self.min_area = min_area              # regions (and classes) covering less of the frame are dropped
        self.split_background = split_background  # a region with two or more cores this sure splits between them (0: off)
        self.naming_opening = naming_opening  # a region's crop: the box of the region opened with a square this wide (cells)
        self.classifier = None if region_model is None else Classifier(region_model, threads)

    def close(self) -> None:
        if self.classifier is not None:
            self.classifier.close()

    def __call__(self, frame: np.ndarray, objects: np.ndarray, background: np.ndarray,
                 probabilities: np.ndarray) -> np.ndarray:
        """Labels (the score maps' size, BACKGROUND_ID where none); inside a named region
        `probabilities` become P(object) x P(class | region)."""
        if self.classifier is None:
            labels = probabilities[..., :NUM_CLASSES].argmax(axis=2).astype(np.uint8)
            labels[~objects] = BACKGROUND_ID
            return labels
        labels = np.full(objects.shape, BACKGROUND_ID, np.uint8)
        min_pixels = self.min_area * objects.size
        count, components = cv2.connectedComponents(objects.astype(np.uint8), connectivity=4)
        if self.split_background > 0:
            count, components = split_regions(components, count, background < self.split_background, min_pixels)
        areas = np.bincount(components.ravel(), minlength=count)
        big = np.nonzero(areas[1:] >= min_pixels)[0] + 1
        if not len(big):
            return labels
        scale = np.array([frame.shape[1] / objects.shape[1], frame.shape[0] / objects.shape[0]] * 2, np.float32)
        regions = [components == i for i in big.tolist()]
        whole = np.array([bounding_box(region) for region in regions], np.float32)
        opened = np.array([self.naming_box(region, min_pixels) for region in regions], np.float32)
        other = np.nonzero((opened != whole).any(axis=1))[0]  # regions whose opened box is another crop
        named = self.classifier.predict(crop_boxes(frame, np.concatenate([whole, opened[other]]) * scale, self.classifier.input_size))
        if len(other):  # each region's two crops in one batch: the less background-like names it
            # a model with no background score (the plain classifier): the crop surest of a class
            unlike_background = (lambda p: -p[:, NUM_CLASSES]) if named.shape[1] > NUM_CLASSES else (lambda p: p.max(1))
            alternative = named[len(regions):]
            better = unlike_background(alternative) > unlike_background(named[other])
            named[other[better]] = alternative[better]
        for inside, region in zip(regions, named):
            if region.argmax() == NUM_CLASSES:  # the box model's background: no object after all
                continue
            pixels = probabilities[inside, :NUM_CLASSES].mean(axis=0)
            classes = (region[:NUM_CLASSES] / region[:NUM_CLASSES].sum() + pixels / pixels.sum()) / 2
            labels[inside] = classes.argmax()
            probabilities[inside, NUM_CLASSES] = background[inside]
            probabilities[inside, :NUM_CLASSES] = (1.0 - background[inside, None]) * classes
        return labels

    def naming_box(self, region: np.ndarray, min_pixels: float) -> tuple[int, int, int, int]:
        """x1, y1, x2, y2 (map cells) of the crop a region is named from: the box of the region opened
        with a naming_opening-wide square, or of the whole region where too little of it is left."""
        if self.naming_opening > 1:
            square = np.ones((self.naming_opening,) * 2, np.uint8)
            opened = cv2.morphologyEx(region.astype(np.uint8), cv2.MORPH_OPEN, square)
            if cv2.countNonZero(opened) >= min_pixels:
                return bounding_box(opened)
        return bounding_box(region)


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """x1, y1, x2, y2 (exclusive) of the nonzero pixels of a 2-D mask."""
    x, y, width, height = cv2.boundingRect(mask.astype(np.uint8))
    return x, y, x + width, y + height


def split_regions(components: np.ndarray, count: int, sure: np.ndarray,
                  min_pixels: float) -> tuple[int, np.ndarray]:
    """Regions (`components`, labels 1..count-1, 0 = none) split where one holds two or more cores:
    4-connected runs of `sure` pixels inside it of at least `min_pixels` each. Each pixel of such a
    region goes to the nearest core; the first core keeps the region's label, the others get new
    ones. Returns the new label count and map."""
    cores, core_map, stats, _ = cv2.connectedComponentsWithStats((sure & (components > 0)).astype(np.uint8),
                                                                 connectivity=4)
    big = np.nonzero(stats[1:, cv2.CC_STAT_AREA] >= min_pixels)[0] + 1
    region_of = np.zeros(cores, np.int32)  # a core lies inside one region: one pass finds each core's
    region_of[core_map.ravel()] = components.ravel()
    per_region = {}
    for core in big.tolist():
        per_region.setdefault(int(region_of[core]), []).append(core)
    split = components.copy()
    for region, its_cores in per_region.items():
        if len(its_cores) < 2:
            continue
        seeds = np.isin(core_map, its_cores)
        _, nearest = cv2.distanceTransformWithLabels((~seeds).astype(np.uint8), cv2.DIST_L2, 3,
                                                     labelType=cv2.DIST_LABEL_PIXEL)
        inside = components == region
        seed_core = np.zeros(nearest.max() + 1, np.int32)  # each seed pixel's distance label -> its core
        seed_core[nearest[seeds]] = core_map[seeds]
        belongs = seed_core[nearest]
        for core in its_cores[1:]:
            split[inside & (belongs == core)] = count
            count += 1
    return count, split
