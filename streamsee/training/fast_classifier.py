"""Train the fast ten-class classifier: training/fastnet.py's net on CIFAR-10 and real photos.

Reads top to bottom: constants, build_model(), data, fit, evaluate. Run it as
``streamsee train fast --data CIFAR --tiny TINY --out DIR [--epochs N]``. It learns the ten classes
from the 50,000 CIFAR-10 training images and Tiny ImageNet's training photos of the classes that
map to one of them (resized 64 to 32), after airbench94's recipe (training/fastnet.py). Its weights
(`fast.weights.h5`) are where `streamsee train boxes --fast-backbone` starts the box model from;
the run itself ships nothing. It reports CIFAR-10 test top-1 and the share of Tiny ImageNet's *val*
photos of the classes it names rightly (the real photos at CIFAR's scale), each with the mirror view.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from streamsee.core.labels import CLASSES, NUM_CLASSES  # noqa: E402
from streamsee.training.fastnet import WIDTHS, build_fast_model, compile_recipe, whiten_from  # noqa: E402
from streamsee.training.model import count_macs  # noqa: E402

# ---------------------------------------------------------------- constants
EPOCHS = 20  # passes over the whole set (CIFAR-10 training images and the real photos)
BATCH_SIZE = 512
PRECISION = "mixed_bfloat16"  # AVX-512 BF16: 1.5x float32's images a second here
PAD = 2  # random-crop padding, with a horizontal flip: the augmentation
SEED = 1
WEIGHTS_NAME = "fast.weights.h5"
LOG = "fast_log.json"


# ---------------------------------------------------------------- model
def build_model(widths: tuple[int, int, int] = WIDTHS) -> keras.Model:
    return build_fast_model(NUM_CLASSES, widths)


# ---------------------------------------------------------------- data
def training_set(data, tiny) -> tuple[np.ndarray, np.ndarray, int]:
    """CIFAR-10's training images and Tiny ImageNet's training photos of the ten (at 32 px), their
    labels, and how many of them are real photos."""
    from streamsee.datasets.cifar10 import load_cifar10
    from streamsee.training.classifier import with_real_photos

    train = load_cifar10(data, "train")
    images, labels = with_real_photos(train.images, train.labels.astype(np.int64), tiny)
    return images, labels, len(labels) - len(train.labels)


def batches(images: np.ndarray, labels: np.ndarray, batch_size: int = BATCH_SIZE, seed: int = SEED) -> tf.data.Dataset:
    """Endless shuffled batches, each image flipped at random and shifted by up to PAD pixels, one-hot labels."""

    def augment(image, label):
        image = tf.image.random_flip_left_right(tf.cast(image, tf.float32), seed=seed)
        image = tf.pad(image, [[PAD, PAD], [PAD, PAD], [0, 0]], mode="REFLECT")
        return tf.image.random_crop(image, (32, 32, 3), seed=seed), tf.one_hot(label, NUM_CLASSES)

    return (tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32))).shuffle(len(labels), seed=seed)
            .repeat().map(augment, num_parallel_calls=2).batch(batch_size).prefetch(2))


# ---------------------------------------------------------------- evaluate
def mirrored_probabilities(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """Class probabilities, the mean of each image's and its mirror image's scores (as the runtime does)."""
    scores = [model.predict(view.astype(np.float32), batch_size=500, verbose=0) for view in (images, images[:, :, ::-1])]
    return keras.ops.convert_to_numpy(keras.ops.softmax((scores[0] + scores[1]) / 2))


def evaluate(model: keras.Model, data, tiny) -> dict:
    """CIFAR-10 test top-1 and the real photos (Tiny ImageNet val, the classes that map to one of the ten) named right."""
    from streamsee.datasets.cifar10 import load_cifar10
    from streamsee.datasets.tinyimagenet import load_tinyimagenet

    test = load_cifar10(data, "test")
    val = load_tinyimagenet(tiny, "val")
    named = val.labels < NUM_CLASSES
    predicted = mirrored_probabilities(model, val.at_size(32)[named]).argmax(axis=1)
    truth = val.labels[named]
    return {"cifar10_test_top1": round(float((mirrored_probabilities(model, test.images).argmax(axis=1)
                                              == test.labels).mean()), 4),
            "real_photos_right": round(float((predicted == truth).mean()), 4),
            "real_photos_per_class": {CLASSES[c]: round(float((predicted[truth == c] == c).mean()), 4)
                                      for c in np.unique(truth)},
            "real_photos": int(named.sum())}


# ---------------------------------------------------------------- fit
def train_fast(data, tiny, out, epochs: int = EPOCHS, widths: tuple[int, int, int] = WIDTHS, quiet: bool = False) -> dict:
    """Fit the fast classifier into OUT (its weights, the log with its figures, a model card); returns the log."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(PRECISION)
    try:
        return _train_fast(data, tiny, Path(out), epochs, widths, quiet)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _train_fast(data, tiny, out: Path, epochs: int, widths: tuple[int, int, int], quiet: bool) -> dict:
    """train_fast under the mixed precision policy."""
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(SEED)
    started = time.perf_counter()
    images, labels, real = training_set(data, tiny)
    model = build_model(widths)
    whiten_from(model, images)
    steps = len(labels) // BATCH_SIZE
    compile_recipe(model, steps, epochs, num_classes=NUM_CLASSES)

    def shown(epoch, logs):
        if not quiet:
            print(f"epoch {epoch + 1}: loss {logs['loss']:.4f} accuracy {logs['categorical_accuracy']:.4f} "
                  f"at {time.perf_counter() - started:.0f} s", flush=True)

    history = model.fit(batches(images, labels, BATCH_SIZE), epochs=epochs, steps_per_epoch=steps, verbose=0,
                        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=shown)]).history  # ends on the moving average
    model.save_weights(out / WEIGHTS_NAME)
    log = {"net": model.name, "widths": list(widths), "macs": count_macs(model), "params": int(model.count_params()),
           "examples": int(len(labels)), "real_photos": real, "epochs": epochs, "batch_size": BATCH_SIZE,
           "seed": SEED, "precision": PRECISION, "data": os.path.relpath(data), "tiny": os.path.relpath(tiny),
           "history": [{"epoch": epoch + 1, "loss": round(loss, 5), "accuracy": round(accuracy, 5)}
                       for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["categorical_accuracy"]))],
           "fit_seconds": round(time.perf_counter() - started, 1)}
    log["evaluation"] = evaluate(model, data, tiny)
    (out / LOG).write_text(json.dumps(log, indent=1))
    write_model_card(out, log)
    return log


def write_model_card(out: Path, log: dict) -> None:
    from streamsee.training.export import invocation

    figures = log["evaluation"]
    lines = [
        "# Model card: fast ten-class classifier",
        "",
        "The ten CIFAR-10 classes, learnt from CIFAR-10 and real photos: the start of the box model "
        "(`streamsee train boxes --fast-backbone`), not shipped by itself.",
        "",
        f"- Produced by: `{invocation()}`",
        f"- Net: `{log['net']}` (training/fastnet.py), {log['macs'] / 1e6:.1f} M multiply-adds per 32x32 crop, "
        f"{log['params']} parameters",
        f"- Data: {log['examples'] - log['real_photos']} CIFAR-10 training images and {log['real_photos']} Tiny ImageNet "
        f"*training* photos of the classes that map to one of the ten (`{log['tiny']}`, 64 to 32 px). Never CIFAR-10 "
        "test images, never Tiny ImageNet val images, never ../shared/media",
        f"- Fit: {log['epochs']} epochs, batch {log['batch_size']}, training/fastnet.py's recipe; final loss "
        f"{log['history'][-1]['loss']:.3f}, training accuracy {log['history'][-1]['accuracy']:.2%} (label-smoothed); "
        f"{log['fit_seconds'] / 60:.1f} min on this machine (the log: `{LOG}`)",
        f"- CIFAR-10 test top-1 (float, with the mirror view): {figures['cifar10_test_top1']:.2%}",
        f"- Real photos named right (Tiny ImageNet val, {figures['real_photos']} photos of the classes, 64 to 32 px): "
        f"{figures['real_photos_right']:.1%} ("
        + ", ".join(f"{name} {share:.0%}" for name, share in figures["real_photos_per_class"].items()) + ")",
        "",
    ]
    (out / "MODEL_CARD.md").write_text("\n".join(lines))
