"""The convnet every model of streamsee is made from: a small all-convolutional ResNet.

The classifier (training.classifier), the FCNs (training.fcn) and the box model (training.boxes)
all start from build_model's layers; export counts its multiply-adds with count_macs.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers  # noqa: E402

from streamsee.core.labels import NUM_CLASSES  # noqa: E402

WIDTH = 20  # channels of the first stage; the stages have 1x, 2x, 4x, 8x this


def build_model(width: int = WIDTH, input_shape=(32, 32, 3), num_classes: int = NUM_CLASSES):
    """A small all-convolutional ResNet (ResNet-9 layout at a fifth of its width).

    Input: BGR pixels as float 0..255. The head is a 1x1 convolution to class scores
    ("scores", a map at stride 8) followed by global average pooling, so the very same
    weights run on a whole frame and give a class-score map. Stage outputs are named
    "stage1" (stride 2), "stage2" (stride 4), "stage3" (stride 8) for the FCN's skip layers.
    """
    def conv_bn(x, filters, name):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    def residual(x, filters, name):
        y = conv_bn(x, filters, f"{name}a")
        y = conv_bn(y, filters, f"{name}b")
        return layers.Add(name=name)([x, y])

    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1 / 64, offset=-2, name="normalise")(inputs)
    x = conv_bn(x, width, "prep")
    x = conv_bn(x, 2 * width, "layer1")
    x = layers.MaxPool2D(name="pool1")(x)
    x = residual(x, 2 * width, "stage1")
    x = conv_bn(x, 4 * width, "layer2")
    x = layers.MaxPool2D(name="stage2")(x)
    x = conv_bn(x, 8 * width, "layer3")
    x = layers.MaxPool2D(name="pool3")(x)
    x = residual(x, 8 * width, "stage3")
    x = layers.Conv2D(num_classes, 1, name="score_conv", dtype="float32")(x)
    scores = layers.Rescaling(0.125, name="scores", dtype="float32")(x)  # calm logits at the start
    logits = layers.GlobalAveragePooling2D(name="logits", dtype="float32")(scores)
    return keras.Model(inputs, logits, name=f"cifar_resnet9_w{width}")


def count_macs(model) -> int:
    """Multiply-adds of one forward pass, counting convolutions (all the work there is)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            height, width, out_channels = layer.output.shape[1:]
            kh, kw = layer.kernel_size
            total += height * width * kh * kw * layer.input.shape[-1] * out_channels
    return int(total)
