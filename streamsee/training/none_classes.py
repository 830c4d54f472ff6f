"""The box model's background learnt as the many things it is (`train boxes --none-classes`).

The box model says "none of the ten" with one score, background, learnt from crops of composed scenes
and Tiny ImageNet's photos of its ~170 `none` classes (people's things, food, rooms, landscapes, other
animals) all under that one label. Here each `none` class gets a score of its own beside the generic
background score while training: the net must tell a bison from a sofa, not only both from a cat, so
it learns more of what real photos look like (outlier exposure with the outliers' own labels).

Background is then the sum over those scores: softmax(z)[background] = sum of softmax(z)[j] for j
from BACKGROUND on, which is one softmax over the ten classes and logsumexp(z[BACKGROUND:]). A crop
labelled background (scene crops, pieces of photos) is fitted to that sum, a `none` photo to its own
class, a photo of the ten to its class: loss = logsumexp(z) - logsumexp(z over the labels it allows).
The exported model collapses the scores to the usual eleven (export_model), so the runtime and the
thresholds see a box model like any other.
"""

from __future__ import annotations

import keras
import numpy as np

from streamsee.core.labels import NUM_CLASSES

BACKGROUND = NUM_CLASSES  # the generic background score; the `none` classes' own follow it


def fine_labels(labels: np.ndarray, wnids: np.ndarray, none_wnids: list[str]) -> np.ndarray:
    """Tiny ImageNet's labels with each `none` photo (label BACKGROUND) at BACKGROUND + 1 + its class's
    place in `none_wnids`; the ten classes as they are."""
    place = {wnid: i for i, wnid in enumerate(none_wnids)}
    fine = labels.copy()
    none = labels == BACKGROUND
    fine[none] = BACKGROUND + 1 + np.array([place[wnid] for wnid in wnids[none]], np.int64)
    return fine


def widen_head(model: keras.Model, none_classes: int, head: str = "score_conv") -> keras.Model:
    """`model` (eleven scores, background last) with `none_classes` more, each starting as the background
    score less log(none_classes + 1): the summed background starts where the single score was."""
    from streamsee.training.model import build_model

    wide = build_model(num_classes=NUM_CLASSES + 1 + none_classes, input_shape=model.input_shape[1:])  # at the model's side
    for layer in model.layers:
        if layer.weights and layer.name != head:
            wide.get_layer(layer.name).set_weights(layer.get_weights())
    kernel, bias = model.get_layer(head).get_weights()
    shift = np.log(none_classes + 1.0) / model.get_layer("scores").scale  # the scores are rescaled after the head
    kernel = np.concatenate([kernel] + [kernel[..., BACKGROUND:]] * none_classes, axis=-1)
    bias = np.concatenate([bias[:BACKGROUND], np.repeat(bias[BACKGROUND:] - shift, none_classes + 1)])
    wide.get_layer(head).set_weights([kernel, bias])
    for layer in wide.layers:
        layer.trainable = model.get_layer(layer.name).trainable
    return keras.Model(wide.input, wide.output, name="box_model_none_classes")


def allowed(labels, scores: int):
    """(B, scores) mask of the scores each label allows: its own, or every background score for BACKGROUND."""
    labels = keras.ops.reshape(keras.ops.cast(labels, "int32"), (-1,))
    own = keras.ops.one_hot(labels, scores) > 0
    background = keras.ops.expand_dims(keras.ops.arange(scores) >= BACKGROUND, 0)
    return own | (keras.ops.expand_dims(labels == BACKGROUND, 1) & background)


def open_set_loss(labels, logits):
    """-log of the probability summed over the scores the label allows (module docstring)."""
    mask = allowed(labels, logits.shape[-1])
    return keras.ops.logsumexp(logits, axis=-1) - keras.ops.logsumexp(keras.ops.where(mask, logits, -1e9), axis=-1)


def collapse(logits):
    """The eleven scores: the ten classes' and logsumexp of every background score."""
    return keras.ops.concatenate([logits[:, :BACKGROUND],
                                  keras.ops.logsumexp(logits[:, BACKGROUND:], axis=-1, keepdims=True)], axis=-1)


def collapsed_accuracy(labels, logits):
    """Share right among the eleven (every `none` class counted as background)."""
    labels = keras.ops.minimum(keras.ops.reshape(keras.ops.cast(labels, "int32"), (-1,)), BACKGROUND)
    return keras.ops.cast(keras.ops.argmax(collapse(logits), axis=-1) == labels, "float32")


def export_model(model: keras.Model) -> keras.Model:
    """The model with its scores collapsed to the eleven the box path reads."""
    return keras.Model(model.input, collapse(model.output), name="box_model")
