"""Export a trained Keras model to LiteRT: a float model and a full-integer int8 model.

The int8 model is calibrated on training images only, takes uint8 BGR pixels and returns
float32 class scores, so the live tool never has to import TensorFlow.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

FLOAT_NAME = "classifier_float.tflite"
INT8_NAME = "classifier_int8.tflite"
CALIBRATION_IMAGES = 1000


def as_float32(model: keras.Model, build) -> keras.Model:
    """The same architecture built with float32 variables, carrying `model`'s weights."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        clone = build()
    finally:
        keras.mixed_precision.set_global_policy(policy)
    clone.set_weights(model.get_weights())
    return clone


def convert(model: keras.Model, input_shape, calibration: np.ndarray | None) -> bytes:
    """LiteRT flatbuffer of `model`; full-integer int8 when calibration images are given."""
    signature = tf.TensorSpec(shape=input_shape, dtype=tf.float32, name="image")
    with tempfile.TemporaryDirectory() as saved_model:
        model.export(saved_model, format="tf_saved_model", input_signature=[signature], verbose=False)
        return _convert_saved_model(saved_model, calibration)


def _convert_saved_model(saved_model: str, calibration: np.ndarray | None) -> bytes:
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    if calibration is not None:
        def representative():
            for image in calibration:
                yield [image[None].astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
    return converter.convert()


def export_models(model: keras.Model, out: Path, train_images: np.ndarray, test_split) -> dict:
    """Write both classifiers into OUT, score them on the test split, write the model card."""
    from .classifier import Classifier
    from .train import build_model, count_macs

    model = as_float32(model, build_model)
    rng = np.random.default_rng(0)
    calibration = train_images[rng.choice(len(train_images), min(CALIBRATION_IMAGES, len(train_images)), replace=False)]
    (out / FLOAT_NAME).write_bytes(convert(model, (None, 32, 32, 3), None))
    (out / INT8_NAME).write_bytes(convert(model, (None, 32, 32, 3), calibration))
    report = {"macs": count_macs(model), "params": int(model.count_params())}
    predictions = {}
    for name in (FLOAT_NAME, INT8_NAME):
        with Classifier(out / name) as classifier:
            predictions[name] = classifier.predict(test_split.images).argmax(1)
        report[name] = {"test_top1": float((predictions[name] == test_split.labels).mean()),
                        "bytes": (out / name).stat().st_size}
    report["int8_float_agreement"] = float((predictions[FLOAT_NAME] == predictions[INT8_NAME]).mean())
    return report
