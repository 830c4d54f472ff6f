"""The shipped CIFAR-10 classifier, run with LiteRT (no TensorFlow import, fast start)."""

from __future__ import annotations

import os

import numpy as np

from streamsee.core.files import MODELS_DIR as PACKAGE_MODELS_DIR
from streamsee.core.frames import resize_square, to_bgr
from streamsee.core.labels import CLASSES
from streamsee.core.resource import Resource
from streamsee.recognition.runtime import LiteRTModel, ModelFileError, softmax

MODELS_DIR = PACKAGE_MODELS_DIR / "classifier"
DEFAULT_MODEL = MODELS_DIR / "classifier_int8.tflite"
INPUT_SIZE = 32  # the shipped models' input side; a model exported at another side is run at its own


class Classifier(LiteRTModel):
    """Classifies square BGR uint8 crops in batches, at the model's input side (`input_size`, 32 as shipped).

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
        self.input_size = self.input_side()  # crops are this many pixels square

    def input_side(self) -> int:
        """The side of the square input the model was exported at (32 unless exported at another)."""
        height, width = self._input_shape[1:3]
        if height != width or height < 1:
            raise ModelFileError(f"model file {str(self.model_path)!r} takes {height}x{width} inputs, not a square side")
        return int(height)

    def logits(self, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Class scores before softmax for crops (N, S, S, 3) BGR uint8, S the model's input_size."""
        crops = np.asarray(crops)
        side = self.input_size
        if crops.ndim != 4 or crops.shape[1:] != (side, side, 3) or crops.dtype != np.uint8:
            raise ValueError(f"crops must be uint8 (N, {side}, {side}, 3), got {crops.dtype} {crops.shape}")
        results = [self._scores(crops[start:start + batch_size]) for start in range(0, len(crops), batch_size)]
        return np.concatenate(results) if results else np.zeros((0, len(CLASSES)), np.float32)

    def _scores(self, batch: np.ndarray) -> np.ndarray:
        if not self.mirror:
            return self.run(batch)
        both = self.run(np.concatenate([batch, batch[:, :, ::-1]]))
        return (both[:len(batch)] + both[len(batch):]) / 2

    def predict(self, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Class probabilities (N, 10) for crops (N, S, S, 3) BGR uint8, S the model's input_size."""
        return softmax(self.logits(crops, batch_size))

    def classify(self, image: np.ndarray) -> np.ndarray:
        """Probabilities (10,) for one image of any size and channel layout."""
        return self.predict(resize_square(to_bgr(image), self.input_size)[None])[0]


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
            sides = sorted({member.input_size for member in self.members})
            if len(sides) > 1:
                raise ValueError(f"an ensemble's models must take one input side, got {sides}")
        except Exception:
            self.close()
            raise
        self.input_size = sides[0]

    def close(self) -> None:
        for member in self.members:
            member.close()

    def logits(self, crops: np.ndarray) -> np.ndarray:
        """Mean class scores (N, 10) for crops (N, S, S, 3) BGR uint8, S the models' input_size."""
        return sum(member.logits(crops) for member in self.members) / len(self.members)
