"""The shipped CIFAR-10 classifier, run with LiteRT (no TensorFlow import, fast start)."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from .labels import CLASSES
from .resource import Resource

MODELS_DIR = Path(__file__).parent / "models" / "classifier"
DEFAULT_MODEL = MODELS_DIR / "classifier_int8.tflite"
INPUT_SIZE = 32


class ModelFileError(ValueError):
    """A model file that exists but is not a LiteRT model streamsee can run."""


@contextmanager
def quiet_stderr():
    """Silence what C++ libraries write to file descriptor 2 (LiteRT announces its XNNPACK delegate
    there on every first allocation, whatever TF_CPP_MIN_LOG_LEVEL says once Python is running)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def load_interpreter(path: os.PathLike | str, threads: int | None = None):
    """A LiteRT interpreter for `path`, with one clear error for a missing or corrupt file."""
    from ai_edge_litert.interpreter import Interpreter

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {str(path)!r}")
    try:
        return Interpreter(model_path=str(path), num_threads=threads or os.cpu_count())
    except (ValueError, RuntimeError) as error:
        raise ModelFileError(f"model file {str(path)!r} is not a valid LiteRT model ({error})") from None


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Any decoded image (grey, BGR, BGRA; uint8 or uint16) as BGR uint8 (H, W, 3)."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"image dtype {image.dtype} is not uint8 or uint16")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(f"image shape {image.shape} is not (H, W), (H, W, 3) or (H, W, 4)")


def resize_crop(image: np.ndarray) -> np.ndarray:
    """An image of any size as the model's 32x32 input (area interpolation when shrinking)."""
    height, width = image.shape[:2]
    shrinking = height > INPUT_SIZE or width > INPUT_SIZE
    return cv2.resize(image, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


class LiteRTModel(Resource):
    """A LiteRT model opened for inference; a context manager whose close() is safe twice."""

    def __init__(self, model_path: os.PathLike | str, threads: int | None = None):
        self.model_path = Path(model_path)
        self._interpreter = load_interpreter(self.model_path, threads)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._input_shape: tuple[int, ...] = ()
        self.closed = False

    def close(self) -> None:
        self._interpreter = None
        self.closed = True

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The model's float32 output for one input batch (resizing the input tensor when its shape changes)."""
        if self.closed:
            raise ValueError(f"model {str(self.model_path)!r} is closed")
        if batch.shape != self._input_shape:
            self._interpreter.resize_tensor_input(self._input["index"], batch.shape)
            with quiet_stderr():
                self._interpreter.allocate_tensors()
            self._input_shape = batch.shape
        self._interpreter.set_tensor(self._input["index"], batch.astype(self._input["dtype"], copy=False))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output["index"]).astype(np.float32)


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


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
