"""The shipped CIFAR-10 classifier, run with LiteRT (no TensorFlow import, fast start)."""

from __future__ import annotations

import os

import cv2
import numpy as np

from streamsee.core.files import MODELS_DIR as PACKAGE_MODELS_DIR
from streamsee.core.frames import to_bgr
from streamsee.core.labels import CLASSES
from streamsee.core.resource import Resource
from streamsee.recognition.runtime import LiteRTModel, softmax

MODELS_DIR = PACKAGE_MODELS_DIR / "classifier"
DEFAULT_MODEL = MODELS_DIR / "classifier_int8.tflite"
INPUT_SIZE = 32


def resize_crop(image: np.ndarray) -> np.ndarray:
    """An image of any size as the model's 32x32 input (area interpolation when shrinking)."""
    height, width = image.shape[:2]
    shrinking = height > INPUT_SIZE or width > INPUT_SIZE
    return cv2.resize(image, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


class Classifier(LiteRTModel):
    """Classifies 32x32 BGR uint8 crops in batches.

    With `mirror` (the default) each crop is also classified mirrored left to right, in the same
    batch, and the two views' class scores are averaged (test-time augmentation: it costs one more
    crop per crop and gains about a point of top-1 on CIFAR-10, see the model card).

    >>> with Classifier() as classifier:
    ...     probabilities = classifier.predict(crops)   # (N, 10) float32, rows sum to 1
    """

    def __init__(self, model_path: os.PathLike | str = DEFAULT_MODEL, threads: int | None = None,
                 mirror: bool = True):
        super().__init__(model_path, threads)
        self.mirror = mirror

    def logits(self, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Class scores before softmax for crops (N, 32, 32, 3) BGR uint8."""
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3) or crops.dtype != np.uint8:
            raise ValueError(f"crops must be uint8 (N, 32, 32, 3), got {crops.dtype} {crops.shape}")
        results = [self._scores(crops[start:start + batch_size]) for start in range(0, len(crops), batch_size)]
        return np.concatenate(results) if results else np.zeros((0, len(CLASSES)), np.float32)

    def _scores(self, batch: np.ndarray) -> np.ndarray:
        if not self.mirror:
            return self.run(batch)
        both = self.run(np.concatenate([batch, batch[:, :, ::-1]]))
        return (both[:len(batch)] + both[len(batch):]) / 2

    def predict(self, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Class probabilities (N, 10) for crops (N, 32, 32, 3) BGR uint8."""
        return softmax(self.logits(crops, batch_size))

    def classify(self, image: np.ndarray) -> np.ndarray:
        """Probabilities (10,) for one image of any size and channel layout."""
        return self.predict(resize_crop(to_bgr(image))[None])[0]


class Ensemble(Resource):
    """The mean class scores of several LiteRT classifiers over the same crops (one model: its own).

    `streamsee evaluate --model A --model B` scores one; `streamsee train --teacher` distils one.
    """

    def __init__(self, model_paths: list, threads: int | None = None, mirror: bool = True):
        if not model_paths:
            raise ValueError("an ensemble needs at least one model")
        self.members: list[Classifier] = []
        try:
            for path in model_paths:
                self.members.append(Classifier(path, threads, mirror))
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        for member in self.members:
            member.close()

    def logits(self, crops: np.ndarray) -> np.ndarray:
        """Mean class scores (N, 10) for crops (N, 32, 32, 3) BGR uint8."""
        return sum(member.logits(crops) for member in self.members) / len(self.members)
