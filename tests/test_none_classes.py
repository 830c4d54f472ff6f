"""training/none_classes.py: each `none` class a score of its own while training, summed into background."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

from streamsee.training import none_classes  # noqa: E402
from streamsee.training.boxes import BACKGROUND, build_box_model  # noqa: E402


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_fine_labels_give_each_none_class_its_own_score():
    labels = np.array([3, BACKGROUND, BACKGROUND, 0, BACKGROUND])
    wnids = np.array(["n01", "n09", "n05", "n02", "n09"])
    fine = none_classes.fine_labels(labels, wnids, ["n05", "n09"])
    assert fine.tolist() == [3, BACKGROUND + 2, BACKGROUND + 1, 0, BACKGROUND + 2]
    assert labels.tolist() == [3, BACKGROUND, BACKGROUND, 0, BACKGROUND]  # not changed in place


def test_the_loss_is_minus_log_of_the_allowed_probability():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, BACKGROUND + 4)).astype(np.float32)
    labels = np.array([2, BACKGROUND, BACKGROUND + 3, BACKGROUND + 1])
    p = softmax(logits.astype(np.float64))
    expected = [-np.log(p[0, 2]), -np.log(p[1, BACKGROUND:].sum()), -np.log(p[2, BACKGROUND + 3]), -np.log(p[3, BACKGROUND + 1])]
    loss = keras.ops.convert_to_numpy(none_classes.open_set_loss(labels, logits))
    assert loss == pytest.approx(expected, rel=1e-4)


def test_collapse_sums_the_background_scores_and_keeps_the_classes():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(5, BACKGROUND + 6)).astype(np.float32)
    p = softmax(logits.astype(np.float64))
    collapsed = softmax(keras.ops.convert_to_numpy(none_classes.collapse(logits)).astype(np.float64))
    assert collapsed.shape == (5, BACKGROUND + 1)
    assert collapsed[:, :BACKGROUND] == pytest.approx(p[:, :BACKGROUND], rel=1e-4)
    assert collapsed[:, BACKGROUND] == pytest.approx(p[:, BACKGROUND:].sum(axis=1), rel=1e-4)
    accuracy = none_classes.collapsed_accuracy(np.array([BACKGROUND + 2] * 5), logits)
    assert keras.ops.convert_to_numpy(accuracy).tolist() == (collapsed.argmax(axis=1) == BACKGROUND).tolist()


def test_the_widened_head_starts_as_the_box_model_it_came_from():
    model = build_box_model()
    wide = none_classes.widen_head(model, 7)
    assert wide.output.shape[-1] == BACKGROUND + 1 + 7
    images = np.random.default_rng(2).integers(0, 256, (3, 32, 32, 3)).astype(np.float32)
    before = model.predict(images, verbose=0)
    after = none_classes.export_model(wide).predict(images, verbose=0)
    assert after == pytest.approx(before, abs=1e-3)
    frozen = [layer.name for layer in model.layers if layer.weights and not layer.trainable]
    assert frozen and all(not wide.get_layer(name).trainable for name in frozen)  # batch norm stays frozen
