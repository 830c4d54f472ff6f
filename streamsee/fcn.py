"""The FCN path: the shared convnet run fully convolutionally over the whole frame.

Two LiteRT FCNs (both made by ``streamsee train fcn``) map a frame at a working resolution to
logits for the ten classes plus background at stride 2, fused from score layers at strides
8, 4 and 2: the FCN on the shipped classifier's frozen backbone (per-pixel class scores, as the
classifier learnt them), and the objectness FCN, whose backbone was fine-tuned on composed scenes
(it finds where objects are far better, but its own classes fit pasted CIFAR-10 images, so only
its background probability is used). A pixel is an object where the frozen FCN's likeliest label
is a class and its background probability is below `class_max_background`, or the objectness
FCN's background probability is below `max_background` (calibrated). A connected object region
that holds two or more cores (pixels surer still, below `split_background`) is split between them,
two objects side by side. Each object region is then named as a whole: the mean of the box
model's class probabilities for the region's box (the shared classifier with a background class,
on the region resized to the 32-px input the weights were trained at: the region's box, or the box
of the region with its thin spurs opened off, `naming_opening`, whichever looks less like
background) and the frozen FCN's over the region's pixels; a region the box model calls background
is dropped. The class map at the frame's size then follows the objectness FCN's outline more finely
than its cells: its background probability upsampled bilinearly, a frame pixel within one cell of a
named region is that region's where it is below `outline_background` (a region that map does not see,
the class FCN's claim alone, keeps its cells). The result: per-pixel
probabilities, a class map at the frame's size (255 = no class) and one region per class present:
area fraction, mean and peak probability, bounding box.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from .boxes import DEFAULT_BOX_MODEL, crop_boxes
from .classifier import Classifier, LiteRTModel, softmax
from .labels import BACKGROUND_ID, NUM_CLASSES
from .result import Result, check_frame

MODELS = Path(__file__).parent / "models"
DEFAULT_FCN = MODELS / "fcn" / "fcn_int8.tflite"  # frozen backbone: class scores per pixel
DEFAULT_OBJECTNESS = MODELS / "objectness" / "fcn_int8.tflite"  # fine-tuned backbone: where objects are
CALIBRATION = DEFAULT_OBJECTNESS.parent / "fcn_calibration.json"  # made by `streamsee train fcn`
FALLBACK_MAX_BACKGROUND = 0.1
OUTPUT_STRIDE = 2
STRIDE = 8  # the working size is rounded to a multiple of the deepest stride
WORKING_WIDTH = 160  # the default: chosen by measurement on composed scenes and real footage (README)
# The objectness FCN's working width: with the outline drawn from its map (OUTLINE_BACKGROUND), a finer
# map pays. Mean mIoU over the dev and two selection scene sets: 160 0.632, 192 0.658, 224 0.658,
# 256 0.665, 320 0.618 (README).
OBJECTNESS_WIDTH = 256
# The frozen FCN claims a pixel where its likeliest label is a class and its background probability
# is below this (1, the default: wherever its likeliest label is a class). 0.3 measured: 0.529 against
# 0.524 held out, but car-turn.mp4 right on 55 % of frames against 70 % (README).
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
# The class map at the frame's size: a frame pixel within one map cell of a named region takes its label
# where the objectness FCN's background probability, upsampled bilinearly, is below this (None: each
# map cell's label, nearest-neighbour). Regions are found and named at max_background; their outline is
# looser and finer. Dev scenes (objectness width 160): 0.567 to 0.586 (0.5 and 0.7 within 0.001; 0.3
# 0.576; the lower of both FCNs' background probabilities 0.572); selection scenes 0.640 to 0.667.
OUTLINE_BACKGROUND = 0.6
# Where the score maps lie on the frame: each cell's centre a quarter of a cell right of and below the
# centre of the frame pixels it stands for (the strided convolutions' padding; dev: 0.5864 at a quarter,
# 0.5849 at none, 0.5851 at 0.4).
MAP_OFFSET = 0.25
# A region less than this share of whose cells the outline puts below outline_background (one the
# objectness FCN does not see: the class FCN's claim alone) keeps its cells. Real photos (cat_chelsea,
# dogs_collage) are claimed by the class FCN only and lost their regions without it; dev scenes (at 192 px)
# 0.606 without, 0.603 with it (0.3: the same).
FAINT_SHARE = 0.5


def working_size(frame_shape: tuple[int, ...], working_width: int) -> tuple[int, int]:
    """(height, width) a network sees for a frame of this shape: aspect kept, multiples of 8."""
    height, width = frame_shape[:2]
    return max(STRIDE, int(round(working_width * height / width / STRIDE)) * STRIDE), working_width


def calibrated_max_background(calibration: Path = CALIBRATION) -> float:
    """The objectness FCN's background probability under which a pixel is an object, as calibrated."""
    if calibration.is_file():
        return float(json.loads(calibration.read_text())["max_background"])
    return FALLBACK_MAX_BACKGROUND


class Segmenter(LiteRTModel):
    """Per-pixel classes for BGR uint8 frames of any size.

    >>> with Segmenter() as segment:
    ...     result = segment(frame)     # Result with class_map, probabilities, one box per class

    objectness_model=None: object pixels (and the outline) from the class FCN alone; region_model=None:
    each pixel keeps the class FCN's own class.
    """

    def __init__(self, model_path: os.PathLike | str = DEFAULT_FCN, working_width: int = WORKING_WIDTH,
                 min_area: float = 0.002, max_background: float | None = None,
                 class_max_background: float = CLASS_MAX_BACKGROUND, split_background: float = SPLIT_BACKGROUND,
                 naming_opening: int = NAMING_OPENING, outline_background: float | None = OUTLINE_BACKGROUND,
                 objectness_model: os.PathLike | str | None = DEFAULT_OBJECTNESS,
                 objectness_width: int = OBJECTNESS_WIDTH,
                 region_model: os.PathLike | str | None = DEFAULT_BOX_MODEL, threads: int | None = None):
        for name, value in (("working_width", working_width), ("objectness_width", objectness_width)):
            if value < 32 or value % STRIDE:
                raise ValueError(f"{name} must be a multiple of {STRIDE} and at least 32, got {value!r}")
        max_background = calibrated_max_background() if max_background is None else max_background
        for name, value in (("max_background", max_background), ("class_max_background", class_max_background)):
            if not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {value!r}")
        if not 0 <= split_background <= 1:
            raise ValueError(f"split_background must be in [0, 1] (0: regions never split), got {split_background!r}")
        if not (isinstance(naming_opening, int) and naming_opening >= 0):
            raise ValueError(f"naming_opening must be a whole number of map cells, 0 or more (0: the whole "
                             f"region's box), got {naming_opening!r}")
        if outline_background is not None and not 0 < outline_background <= 1:
            raise ValueError(f"outline_background must be in (0, 1], or None (each map cell's label), "
                             f"got {outline_background!r}")
        super().__init__(model_path, threads)
        self.working_width = working_width
        self.objectness_width = objectness_width
        self.min_area = min_area              # regions (and classes) covering less of the frame are dropped
        self.max_background = max_background  # objectness: a pixel is an object where P(background) is below this
        self.class_max_background = class_max_background  # the class FCN's own claims: where its P(background) is below this
        self.split_background = split_background  # a region with two or more cores this sure splits between them (0: off)
        self.naming_opening = naming_opening  # a region's crop: the box of the region opened with a square this wide (cells)
        self.outline_background = outline_background  # frame pixels near a region: its own where objectness P(background) is below this
        self.objectness = None if objectness_model is None else LiteRTModel(objectness_model, threads)
        self.regions = None if region_model is None else Classifier(region_model, threads)  # names each region

    def close(self) -> None:
        for model in (self.objectness, self.regions):
            if model is not None:
                model.close()
        super().close()

    def working_size(self, frame_shape: tuple[int, ...]) -> tuple[int, int]:
        """(height, width) the class FCN sees for a frame of this shape: aspect kept, multiples of 8."""
        return working_size(frame_shape, self.working_width)

    @staticmethod
    def _shrunk(frame: np.ndarray, working_width: int) -> np.ndarray:
        """The frame as a batch of one at this working width."""
        height, width = working_size(frame.shape, working_width)
        return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)[None]

    def probabilities(self, frame: np.ndarray) -> np.ndarray:
        """The class FCN's softmax over the ten classes then background, (h, w, 11) at stride 2 of
        the working size."""
        check_frame(frame)
        return softmax(self.run(self._shrunk(frame, self.working_width))[0])

    def objects(self, frame: np.ndarray, working: np.ndarray,
                probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Object mask (h, w), each pixel's background probability, and the background probability the
        outline follows. The mask: the class FCN's likeliest label a class (and its background
        probability below class_max_background), or the objectness FCN's (at its own working width,
        its map shrunk to the class FCN's) below max_background. The background probability: the class
        FCN's, or the objectness FCN's where it is surer of an object; the outline's: the objectness
        FCN's (the class FCN's where there is none). `working`: the frame as the class FCN saw it."""
        background = probabilities[..., NUM_CLASSES]
        # a class strictly likelier than background: the int8 FCN's logits often tie, and a tie is no claim
        objects = (probabilities[..., :NUM_CLASSES].max(axis=2) > background) & (background < self.class_max_background)
        if self.objectness is None:
            return objects, background, background
        if self.objectness_width != self.working_width:
            working = self._shrunk(frame, self.objectness_width)
        outline = softmax(self.objectness.run(working)[0])[..., NUM_CLASSES]  # at the objectness FCN's own size
        objectness_background = outline
        if outline.shape != background.shape:
            objectness_background = cv2.resize(outline, background.shape[::-1], interpolation=cv2.INTER_AREA)
        objects |= objectness_background < self.max_background
        return objects, np.minimum(background, objectness_background), outline

    def name_regions(self, frame: np.ndarray, objects: np.ndarray, background: np.ndarray,
                     probabilities: np.ndarray) -> np.ndarray:
        """Class map (stride 2) of the connected object regions, each named as a whole (module
        docstring); inside a region `probabilities` become P(object) x P(class | region)."""
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
        named = self.regions.predict(crop_boxes(frame, np.concatenate([whole, opened[other]]) * scale))
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

    def __call__(self, frame: np.ndarray) -> Result:
        check_frame(frame)
        working = self._shrunk(frame, self.working_width)
        probabilities = softmax(self.run(working)[0])
        objects, background, outline = self.objects(frame, working, probabilities)
        if self.regions is None:
            labels = probabilities[..., :NUM_CLASSES].argmax(axis=2).astype(np.uint8)
            labels[~objects] = BACKGROUND_ID
        else:
            labels = self.name_regions(frame, objects, background, probabilities)
        too_small = np.bincount(labels.ravel(), minlength=BACKGROUND_ID + 1) < self.min_area * labels.size
        too_small[BACKGROUND_ID] = False
        labels[too_small[labels]] = BACKGROUND_ID  # classes covering too little of the map are dropped
        class_map = self.class_map(labels, outline, frame.shape)
        pixels = np.bincount(class_map.ravel(), minlength=BACKGROUND_ID + 1)  # per class, at the frame's size
        boxes, class_ids, scores, areas = [], [], [], []
        for class_id in np.nonzero(pixels[:BACKGROUND_ID])[0].tolist():
            boxes.append(bounding_box(class_map == class_id))
            class_ids.append(class_id)
            scores.append(float(probabilities[..., class_id][labels == class_id].mean()))
            areas.append(float(pixels[class_id] / class_map.size))
        return Result(np.array(boxes, np.float32).reshape(-1, 4), class_ids, scores, areas, class_map, probabilities)

    def class_map(self, labels: np.ndarray, outline: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray:
        """The map's labels (stride 2) at the frame's size. Each frame pixel within one map cell of a
        labelled cell takes the nearest one's label where `outline` (a background probability per
        cell of its own map), upsampled bilinearly, is below outline_background; a region less than
        FAINT_SHARE of whose cells are below it (one the objectness FCN does not see, claimed by the
        class FCN alone) keeps its cells instead. outline_background None: each cell's label."""
        height, width = frame_shape[:2]
        labelled = labels != BACKGROUND_ID
        if self.outline_background is None or not labelled.any():
            return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
        distance, nearest = cv2.distanceTransformWithLabels((~labelled).astype(np.uint8), cv2.DIST_L2, 3,
                                                            labelType=cv2.DIST_LABEL_PIXEL)
        label_of = np.zeros(nearest.max() + 1, np.uint8)  # each labelled cell's distance label -> its label
        label_of[nearest[labelled]] = labels[labelled]
        near = np.where(distance <= 1, label_of[nearest], BACKGROUND_ID).astype(np.uint8)
        coarse = outline if outline.shape == labels.shape else cv2.resize(outline, labels.shape[::-1],
                                                                          interpolation=cv2.INTER_LINEAR)
        count, regions = cv2.connectedComponents(labelled.astype(np.uint8), connectivity=4)
        inside = np.bincount(regions[coarse < self.outline_background], minlength=count)
        faint = inside < FAINT_SHARE * np.bincount(regions.ravel(), minlength=count)
        faint[0] = False
        size, cells_to_frame = (width, height), to_frame(labels.shape, (height, width))
        near = cv2.warpAffine(near, cells_to_frame, size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
        outline = cv2.warpAffine(outline.astype(np.float32), to_frame(outline.shape, (height, width)), size,
                                 flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        near[outline >= self.outline_background] = BACKGROUND_ID
        if faint.any():  # faint regions' own cells, over the outline
            kept = cv2.warpAffine(np.where(faint[regions], labels, BACKGROUND_ID).astype(np.uint8), cells_to_frame,
                                  size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
            near = np.where(kept != BACKGROUND_ID, kept, near).astype(np.uint8)
        return near


def to_frame(map_shape: tuple[int, ...], frame_shape: tuple[int, int]) -> np.ndarray:
    """The affine transform (2x3) that lays a score map's cells onto the frame, MAP_OFFSET included."""
    scale_y, scale_x = frame_shape[0] / map_shape[0], frame_shape[1] / map_shape[1]
    return np.float32([[scale_x, 0, (scale_x - 1) / 2 + MAP_OFFSET * scale_x],
                       [0, scale_y, (scale_y - 1) / 2 + MAP_OFFSET * scale_y]])


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


def peak_probability(result: Result) -> np.ndarray:
    """Per region of an FCN result, the highest probability of its class anywhere in the frame."""
    if result.probabilities is None:
        return np.zeros(0, np.float32)
    return np.array([result.probabilities[..., c].max() for c in result.class_id], np.float32)
