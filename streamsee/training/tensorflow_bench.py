"""The class FCN run by TensorFlow, for `streamsee bench` (part 4, inference runtimes). It lives here
because only training code imports TensorFlow; the bench is handed `time_fcn` and calls it only if
TensorFlow can be imported (the train extra), so the bench never needs it."""

from __future__ import annotations

import os
import time

import numpy as np


def time_fcn(weights: os.PathLike | str, inputs: list[np.ndarray], repeats: int) -> tuple[list[float], list[np.ndarray]]:
    """Milliseconds per frame of the class FCN (Keras, its exported weights) on each input (1, h, w, 3)
    uint8, over `repeats` passes after a warm-up call (a compiled tf.function), and the last outputs.
    Raises ModuleNotFoundError when TensorFlow is not installed."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from streamsee.training.fcn import build_fcn

    model = build_fcn(backbone_weights=None)
    model.load_weights(weights)
    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    forward(tf.constant(inputs[0], tf.float32))
    times, outputs = [], []
    for _ in range(repeats):
        outputs = []
        for x in inputs:
            started = time.perf_counter()
            outputs.append(forward(tf.constant(x, tf.float32)).numpy())
            times.append((time.perf_counter() - started) * 1000)
    return times, outputs
