"""Export a trained Keras model to LiteRT: a float model and a full-integer int8 model.

The int8 model is calibrated on training images only, takes uint8 BGR pixels and returns
float32 class scores, so the live tool never has to import TensorFlow.
"""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from streamsee.recognition.classifier import Classifier
from streamsee.training.model import build_model, count_macs

LOG = "training_log.json"  # the classifier's per-epoch log, beside its card
WEIGHTS_NAME = "classifier.weights.h5"  # Keras weights: the FCN's backbone starts from them
FLOAT_NAME = "classifier_float.tflite"
INT8_NAME = "classifier_int8.tflite"
CALIBRATION_IMAGES = 1000
MAC_BUDGET, PARAM_BUDGET = 41_000_000, 1_000_000  # the shipped classifier's budget per 32x32 crop (ResNet-20's cost)


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

    width = model.get_layer("prep_conv").filters  # the run's --width
    model = as_float32(model, lambda: build_model(width))
    model.save_weights(out / WEIGHTS_NAME)
    rng = np.random.default_rng(0)
    calibration = train_images[rng.choice(len(train_images), min(CALIBRATION_IMAGES, len(train_images)), replace=False)]
    (out / FLOAT_NAME).write_bytes(convert(model, (None, 32, 32, 3), None))
    (out / INT8_NAME).write_bytes(convert(model, (None, 32, 32, 3), calibration))
    report = {"macs": count_macs(model), "params": int(model.count_params())}
    predictions = {}
    for name in (FLOAT_NAME, INT8_NAME):
        for mirror in (True, False):
            with Classifier(out / name, mirror=mirror) as classifier:
                predictions[name, mirror] = classifier.predict(test_split.images).argmax(1)
        report[name] = {"test_top1": float((predictions[name, True] == test_split.labels).mean()),
                        "test_top1_single_view": float((predictions[name, False] == test_split.labels).mean()),
                        "bytes": (out / name).stat().st_size}
    report["int8_float_agreement"] = float((predictions[FLOAT_NAME, True] == predictions[INT8_NAME, True]).mean())
    report["n_test"] = int(len(test_split))
    write_model_card(out, report)
    return report


def invocation(backend: str = "tensorflow") -> str:
    """The command line that is running, as a model card quotes it (with the Keras backend it fitted on)."""
    if Path(sys.argv[0]).name != "streamsee":
        return "(API call)"
    prefix = "" if backend == "tensorflow" else f"KERAS_BACKEND={backend} "
    return prefix + "streamsee " + shlex.join(sys.argv[1:])


def earlier_card(weights: str, title: str) -> list[str]:
    """The card of the run that made `weights` (where it is beside them), as a subsection of this card's
    History: its headings two levels down."""
    card = Path(weights).parent / "MODEL_CARD.md"
    if not card.is_file():
        return []
    lines = [line if not line.startswith("#") else "##" + line for line in card.read_text().splitlines()]
    return ["", f"### {title}: `{weights}`", "", *lines[1:]]


def lineage(recipe: dict) -> tuple[list[str], list[str]]:
    """Lines naming the earlier runs this one started from (--init) and learnt from (--teacher), and the
    History section: their own cards."""
    lines, history = [], []
    init = recipe.get("init")
    if init:
        lines.append(f"- Started from: `{init['weights']}` (sha256 {init['sha256'][:16]}...), the weights of an "
                     "earlier run (its card: History, below)")
        history += earlier_card(init["weights"], "Started from")
    teachers = recipe.get("teachers", [])
    for index, teacher in enumerate(teachers, 1):
        lines.append(f"- Teacher {index} of {len(teachers)} (distillation: the teachers' mean class probabilities "
                     f"for each augmented image make {recipe['distill']} of its target): `{teacher['weights']}` "
                     f"(sha256 {teacher['sha256'][:16]}...)")
        history += earlier_card(teacher["weights"], f"Teacher {index}")
    return lines, (["", "## History"] + history if history else [])


def write_model_card(out: Path, report: dict) -> None:
    """MODEL_CARD.md beside the models: command, time, recipe, accuracy, cost."""
    log = json.loads((out / LOG).read_text())
    started_from, earlier = lineage(log["recipe"])
    history = log["history"]
    backend = log["recipe"].get("backend", "tensorflow")
    command = invocation(backend)
    device = log["recipe"].get("device", "2 CPU cores" if backend == "tensorflow" else "an accelerator")
    where = f"{device} (Keras on {backend}" + ("" if backend == "tensorflow" else ", exported with TensorFlow")
    lines = [
        f"# Model card: {log['model']}",
        "",
        "The CIFAR-10 classifier that both recognition paths share (box crops and fully convolutional frames).",
        "",
        f"- Produced by: `{command}` (resumed runs continue the same schedule"
        + ("" if backend == "tensorflow" else "; the same command without KERAS_BACKEND, run where TensorFlow is "
           "installed, finds the finished checkpoint and only exports") + ")",
        f"- Training: {len(history)} epochs of {log['batch_size']}-image batches, "
        f"{sum(e['seconds'] for e in history) / 60:.1f} min of fitting on {where}, {log['recipe']['precision']})",
        f"- Recipe: {json.dumps(log['recipe'])}",
        *started_from,
        f"- Cost: {report['macs'] / 1e6:.1f} M multiply-adds per 32x32 crop, {report['params'] / 1e6:.3f} M parameters"
        + ("" if report["macs"] <= MAC_BUDGET and report["params"] <= PARAM_BUDGET else
           f" (over the shipped budget of {MAC_BUDGET / 1e6:.0f} M and {PARAM_BUDGET / 1e6:.0f} M: a teacher, not for shipping)"),
        "- Input: BGR uint8 pixels, 32x32 (any size runs fully convolutionally); output: 10 class scores (logits)",
        "",
        f"Test top-1 on the {report['n_test']} test images, as shipped (each image and its mirror image, "
        "class scores averaged: `Classifier(mirror=True)`, the default) and of the image alone:",
        "",
        "| model | file | test top-1 | image alone | size |",
        "|---|---|---|---|---|",
    ]
    for label, name in (("float32", FLOAT_NAME), ("int8 (full integer, calibrated on "
                                                   f"{CALIBRATION_IMAGES} training images)", INT8_NAME)):
        lines.append(f"| {label} | `{name}` | {report[name]['test_top1']:.2%} | "
                     f"{report[name]['test_top1_single_view']:.2%} | {report[name]['bytes'] / 1e6:.2f} MB |")
    lines += [
        "",
        f"int8 and float agree on {report['int8_float_agreement']:.2%} of test images.",
        f"The per-epoch log (loss, train and test accuracy, seconds) is `{LOG}` beside this card.",
        "Test images are only scored, never trained on.",
        *earlier,
        "",
    ]
    (out / "MODEL_CARD.md").write_text("\n".join(lines))
