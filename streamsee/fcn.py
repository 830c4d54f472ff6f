"""The FCN path: the shared convnet run fully convolutionally over the whole frame.

The LiteRT model (made by ``streamsee train fcn``) maps a frame at a working resolution to
logits for the ten classes plus background at stride 2, fused from score layers at strides
8, 4 and 2. Here they become per-pixel probabilities, a class map at the frame's size
(255 = no class) and one region per class present: area fraction, mean and peak probability,
bounding box.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from .classifier import LiteRTModel, softmax
from .labels import BACKGROUND_ID, NUM_CLASSES
from .result import Result, check_frame

DEFAULT_FCN = Path(__file__).parent / "models" / "fcn" / "fcn_int8.tflite"
CALIBRATION = DEFAULT_FCN.parent / "fcn_calibration.json"  # made by `streamsee train fcn`
OUTPUT_STRIDE = 2
STRIDE = 8  # the working size is rounded to a multiple of the deepest stride
WORKING_WIDTH = 160  # the default: chosen by measurement on composed scenes and real footage (README)


def calibrated_min_probability(calibration: Path = CALIBRATION) -> float:
    """The least probability a pixel's class needs to be claimed, as calibrated at training time."""
    if calibration.is_file():
        return float(json.loads(calibration.read_text())["min_probability"])
    return 0.0


class Segmenter(LiteRTModel):
    """Per-pixel classes for BGR uint8 frames of any size.

    >>> with Segmenter() as segment:
    ...     result = segment(frame)     # Result with class_map, probabilities, one box per class
    """

    def __init__(self, model_path: os.PathLike | str = DEFAULT_FCN, working_width: int = WORKING_WIDTH,
                 min_area: float = 0.002, min_probability: float | None = None, threads: int | None = None):
        if working_width < 32 or working_width % STRIDE:
            raise ValueError(f"working_width must be a multiple of {STRIDE} and at least 32, got {working_width!r}")
        super().__init__(model_path, threads)
        self.working_width = working_width
        self.min_area = min_area
        self.min_probability = calibrated_min_probability() if min_probability is None else min_probability

    def working_size(self, frame_shape: tuple[int, ...]) -> tuple[int, int]:
        """(height, width) the network sees for a frame of this shape: aspect kept, multiples of 8."""
        height, width = frame_shape[:2]
        working_height = max(STRIDE, int(round(self.working_width * height / width / STRIDE)) * STRIDE)
        return working_height, self.working_width

    def probabilities(self, frame: np.ndarray) -> np.ndarray:
        """Softmax over the ten classes then background, (h, w, 11) at stride 2 of the working size."""
        check_frame(frame)
        height, width = self.working_size(frame.shape)
        working = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        return softmax(self.run(working[None])[0])

    def __call__(self, frame: np.ndarray) -> Result:
        probabilities = self.probabilities(frame)
        labels = probabilities.argmax(axis=2).astype(np.uint8)
        unsure = probabilities.max(axis=2) < self.min_probability
        labels[(labels == NUM_CLASSES) | unsure] = BACKGROUND_ID
        boxes, class_ids, scores, areas = [], [], [], []
        scale_x = frame.shape[1] / labels.shape[1]
        scale_y = frame.shape[0] / labels.shape[0]
        for class_id in np.unique(labels):
            if class_id == BACKGROUND_ID:
                continue
            mask = labels == class_id
            area = float(mask.mean())
            if area < self.min_area:
                labels[mask] = BACKGROUND_ID
                continue
            rows, cols = np.nonzero(mask)
            boxes.append((cols.min() * scale_x, rows.min() * scale_y, (cols.max() + 1) * scale_x,
                          (rows.max() + 1) * scale_y))
            class_ids.append(int(class_id))
            scores.append(float(probabilities[..., class_id][mask].mean()))
            areas.append(area)
        class_map = cv2.resize(labels, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_NEAREST)
        return Result(np.array(boxes, np.float32).reshape(-1, 4), class_ids, scores, areas, class_map, probabilities)


def peak_probability(result: Result) -> np.ndarray:
    """Per region of an FCN result, the highest probability of its class anywhere in the frame."""
    if result.probabilities is None:
        return np.zeros(0, np.float32)
    return np.array([result.probabilities[..., c].max() for c in result.class_id], np.float32)
