"""The coarse level of the FCN path's pyramid: the box model over a few large windows of the frame.

CIFAR objects fill a 32x32 image; in real video an object fills anything from a tenth of the frame
to all of it. At the class FCN's working width a frame-filling object is several times CIFAR's
scale, and the FCN, trained on pasted CIFAR-sized objects, calls it background. Here the box
model (the classifier with a background class, trained on real photos too) classifies the whole
frame and grids of overlapping windows (2x2, 3x3), each shrunk to 32x32, so at some window an
object of any size is about CIFAR's scale; each map cell then takes the probabilities of the
window covering it that is surest of a class (background where every window says background).
"""

from __future__ import annotations

import os

import numpy as np

from streamsee.core.labels import NUM_CLASSES
from streamsee.core.resource import Resource
from streamsee.recognition.boxes import DEFAULT_BOX_MODEL, crop_boxes
from streamsee.recognition.classifier import Classifier

GRIDS = (1, 2, 3)  # windows per side at each level: the whole frame, 2x2, 3x3
OVERLAP = 0.25  # each window reaches this share of its side into its neighbours


def grid_windows(frame_shape: tuple[int, ...], grids: tuple[int, ...] = GRIDS) -> np.ndarray:
    """x1, y1, x2, y2 (float32, pixels) of every window, the largest first."""
    height, width = frame_shape[:2]
    windows = []
    for n in grids:
        side = 1 / (n - (n - 1) * OVERLAP) if n > 1 else 1.0
        step = side * (1 - OVERLAP)
        for row in range(n):
            for col in range(n):
                windows.append([col * step, row * step, col * step + side, row * step + side])
    return np.clip(np.array(windows, np.float32), 0, 1) * np.float32([width, height, width, height])


class WindowScores(Resource):
    """Probabilities (h, w, 11) per cell of a map of the frame, from the box model over large windows.

    >>> with WindowScores() as windows:
    ...     coarse = windows(frame, (60, 80))
    """

    def __init__(self, model_path: os.PathLike | str = DEFAULT_BOX_MODEL, grids: tuple[int, ...] = GRIDS,
                 threads: int | None = None):
        self.grids = tuple(grids)
        self.classifier = Classifier(model_path, threads)

    def close(self) -> None:
        self.classifier.close()

    def __call__(self, frame: np.ndarray, map_shape: tuple[int, int]) -> np.ndarray:
        windows = grid_windows(frame.shape, self.grids)
        probabilities = self.classifier.predict(crop_boxes(frame, windows, self.classifier.input_size))
        if probabilities.shape[1] == NUM_CLASSES:  # a plain classifier: no background score
            probabilities = np.concatenate([probabilities, np.zeros_like(probabilities[:, :1])], axis=1)
        height, width = map_shape
        cells = np.full((height, width, NUM_CLASSES + 1), 0.0, np.float32)
        cells[..., NUM_CLASSES] = 1.0
        sureness = np.full((height, width), -1.0, np.float32)
        scale = np.float32([width / frame.shape[1], height / frame.shape[0]] * 2)
        for window, scores in zip(windows * scale, probabilities):
            x1, y1, x2, y2 = np.round(window).astype(int)
            class_score = float(scores[:NUM_CLASSES].max())
            if class_score <= scores[NUM_CLASSES]:
                continue  # a window the model calls background says nothing about its cells
            inside = sureness[y1:y2, x1:x2] < class_score  # smaller windows come later and win when surer
            cells[y1:y2, x1:x2][inside] = scores
            sureness[y1:y2, x1:x2][inside] = class_score
        return cells
