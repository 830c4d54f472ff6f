"""A crop classifier trained from scratch in a few epochs, after airbench94's recipe (Keller Jordan, 2024).

What is taken from the recipe (our own code, Keras): a first 2x2 convolution whose weights are the
whitening of the training images' 2x2 patches (computed once from the data, then frozen); three
blocks of conv - max-pool - batch norm - activation - conv - batch norm - activation, batch norm
without a learnt scale; global max pooling and a linear head scaled by 1/9; label smoothing; an
exponential moving average of the weights for evaluation; flips and 2-pixel shifts. What is not:
the lookahead optimiser, alternating (rather than random) flips and multi-crop test-time augmentation
(the runtime adds the mirror view), since each needs a custom training loop.

Widths are chosen so that a 32x32 crop costs about what the old ResNet-9 cost (about 40 M multiply-adds):
the box path classifies up to 150 crops a frame.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

WIDTHS = (48, 128, 128)  # the three blocks' channels (airbench94: 64, 256, 256)
WHITEN_PATCH = 2  # side of the whitened patches
WHITEN_EPS = 5e-4  # added to the patch covariance's eigenvalues before the inverse square root
BN_MOMENTUM = 0.6  # Keras' momentum (weight of the old statistics); airbench's 0.6 is PyTorch's, i.e. 0.4 here
HEAD_SCALE = 1 / 9
# the fit: SGD with Nesterov momentum, a triangular rate, label smoothing, the weights' moving average exported
LEARNING_RATE = 0.2  # the rate's peak, after a linear warm-up over the first epoch; then linear to 0
MOMENTUM = 0.85
WEIGHT_DECAY = 5e-4
LABEL_SMOOTHING = 0.2
EMA_MOMENTUM = 0.99


def build_fast_model(num_classes: int, widths: tuple[int, int, int] = WIDTHS, input_shape=(32, 32, 3)) -> keras.Model:
    """The net, input BGR float 0..255, output logits. The whitening layer is named "whiten" and starts
    at zero: set it with whiten_from(model, images) before training."""
    def conv_bn(x, filters, name, pool=False):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
        if pool:
            x = layers.MaxPool2D(name=f"{name}_pool")(x)
        x = layers.BatchNormalization(momentum=1 - BN_MOMENTUM, epsilon=1e-5, scale=False, name=f"{name}_bn")(x)
        return layers.Activation("gelu", name=f"{name}_gelu")(x)

    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1 / 64, offset=-2, name="normalise")(inputs)
    x = layers.Conv2D(2 * WHITEN_PATCH * WHITEN_PATCH * 3, WHITEN_PATCH, use_bias=True, trainable=False,
                      name="whiten")(x)
    x = layers.Activation("gelu", name="whiten_gelu")(x)
    for number, filters in enumerate(widths, start=1):
        x = conv_bn(x, filters, f"block{number}a", pool=True)
        x = conv_bn(x, filters, f"block{number}b")
    x = layers.GlobalMaxPooling2D(name="pool")(x)
    x = layers.Dense(num_classes, use_bias=False, name="head", dtype="float32")(x)
    logits = layers.Rescaling(HEAD_SCALE, name="logits", dtype="float32")(x)
    return keras.Model(inputs, logits, name="fastnet_" + "_".join(map(str, widths)))


def whiten_from(model: keras.Model, images: np.ndarray, samples: int = 5000, seed: int = 0) -> None:
    """Set the frozen first layer to the ZCA-like whitening of 2x2 patches of `images` (uint8 BGR):
    each eigenvector of the patch covariance, scaled by 1/sqrt(eigenvalue + eps), and its negative."""
    rng = np.random.default_rng(seed)
    chosen = images[rng.choice(len(images), min(samples, len(images)), replace=False)].astype(np.float32) / 64 - 2
    side = WHITEN_PATCH
    height, width = chosen.shape[1:3]
    patches = np.stack([chosen[:, y:y + side, x:x + side, :] for y in range(height - side + 1)
                        for x in range(width - side + 1)], axis=1).reshape(-1, side * side * 3)
    patches = patches[rng.choice(len(patches), min(len(patches), 500_000), replace=False)]
    mean = patches.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(patches - mean, rowvar=False))
    filters = (eigenvectors / np.sqrt(eigenvalues + WHITEN_EPS)).T  # (12, 12): one filter a row
    filters = np.concatenate([filters, -filters])  # (24, 12)
    kernel = filters.reshape(-1, side, side, 3).transpose(1, 2, 3, 0)  # (side, side, 3, 24)
    bias = -(filters @ mean)  # centres every filter's response
    model.get_layer("whiten").set_weights([kernel.astype(np.float32), bias.astype(np.float32)])


@keras.saving.register_keras_serializable("streamsee")
class TriangularRate(keras.optimizers.schedules.LearningRateSchedule):
    """Linear from 0 to `peak` over `warmup` steps, then linear to 0 at `total`."""

    def __init__(self, peak: float, warmup: int, total: int):
        self.peak, self.warmup, self.total = peak, warmup, total

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        rising = step / self.warmup
        falling = (self.total - step) / (self.total - self.warmup)
        return self.peak * tf.clip_by_value(tf.minimum(rising, falling), 0.0, 1.0)

    def get_config(self):
        return {"peak": self.peak, "warmup": self.warmup, "total": self.total}


def compile_recipe(model: keras.Model, steps_per_epoch: int, epochs: int, num_classes: int) -> None:
    """Compile `model` with the recipe's optimiser and loss (one-hot targets, `num_classes` of them);
    Keras' fit ends by putting the weights' moving average into the model."""
    schedule = TriangularRate(LEARNING_RATE, warmup=steps_per_epoch, total=epochs * steps_per_epoch)
    model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=MOMENTUM, nesterov=True, weight_decay=WEIGHT_DECAY,
                                                 use_ema=True, ema_momentum=EMA_MOMENTUM),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=LABEL_SMOOTHING),
                  weighted_metrics=["categorical_accuracy"])
