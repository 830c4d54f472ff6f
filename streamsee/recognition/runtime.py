"""LiteRT inference: a model file opened for inference, with one clear error for a bad file. The
runtime never imports TensorFlow."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from streamsee.core.resource import Resource


class ModelFileError(ValueError):
    """A model file that exists but is not a LiteRT model streamsee can run."""


@contextmanager
def quiet_stderr():
    """Silence what C++ libraries write to file descriptor 2 (LiteRT announces its XNNPACK delegate
    there on an interpreter's first allocation, whatever TF_CPP_MIN_LOG_LEVEL says once Python is
    running). Process-wide: used only while a model loads, before any of the pipeline's threads run."""
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


class LiteRTModel(Resource):
    """A LiteRT model opened for inference; a context manager whose close() is safe twice."""

    def __init__(self, model_path: os.PathLike | str, threads: int | None = None):
        self.model_path = Path(model_path)
        self._interpreter = load_interpreter(self.model_path, threads)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        with quiet_stderr():  # the delegate is announced on the first allocation only: here, where the model loads
            self._interpreter.allocate_tensors()
        self._input_shape: tuple[int, ...] = tuple(int(side) for side in self._input["shape"])
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
            self._interpreter.allocate_tensors()
            self._input_shape = batch.shape
        self._interpreter.set_tensor(self._input["index"], batch.astype(self._input["dtype"], copy=False))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output["index"]).astype(np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
