"""The from-scratch crop classifier (training/fastnet.py), the fast ten-class classifier
(training/fast_classifier.py), the box model's scratch recipe and its start from a fast classifier."""

import numpy as np
import pytest

from streamsee.core.labels import NUM_CLASSES
from streamsee.training import boxes as box_head
from streamsee.training import fast_classifier, fastnet
from streamsee.training.fastnet import WHITEN_PATCH, TriangularRate, build_fast_model, whiten_from
from streamsee.training.model import count_macs


def test_fast_model_shapes_and_cost():
    model = build_fast_model(NUM_CLASSES + 1)
    assert model.output_shape == (None, NUM_CLASSES + 1)
    assert not model.get_layer("whiten").trainable
    assert 30e6 < count_macs(model) < 50e6  # about the old ResNet-9's 37 M: the box path classifies 150 crops


def test_whitening_decorrelates_patches():
    """After whiten_from the first layer's responses to the images' own 2x2 patches are centred,
    uncorrelated and of unit variance (each filter appears twice, with both signs)."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (400, 8, 8, 1)).astype(np.float32)
    images = np.clip(np.repeat(base, 4, axis=1).repeat(4, axis=2) * [1.0, 0.8, 0.6]  # strongly correlated channels
                     + rng.normal(0, 8, (400, 32, 32, 3)), 0, 255).astype(np.uint8)
    model = build_fast_model(NUM_CLASSES + 1)
    whiten_from(model, images, samples=400)
    import keras

    whiten = keras.Model(model.input, model.get_layer("whiten").output)
    responses = whiten.predict(images[:100].astype(np.float32), verbose=0).reshape(-1, 2 * WHITEN_PATCH ** 2 * 3)
    half = responses[:, :WHITEN_PATCH ** 2 * 3]
    assert np.allclose(half.mean(axis=0), 0, atol=0.05)
    covariance = np.cov(half, rowvar=False)
    assert np.allclose(np.diag(covariance), 1, atol=0.15)
    assert np.abs(covariance - np.diag(np.diag(covariance))).max() < 0.15
    assert np.allclose(responses[:, WHITEN_PATCH ** 2 * 3:], -half, atol=1e-3)


def test_triangular_rate():
    rate = TriangularRate(0.2, warmup=10, total=110)
    assert float(rate(0)) == 0 and float(rate(10)) == pytest.approx(0.2)
    assert float(rate(60)) == pytest.approx(0.1) and float(rate(110)) == 0 and float(rate(200)) == 0


@pytest.mark.slow
def test_tiny_scratch_run(cifar_path, wallpapers, tmp_path, monkeypatch):
    monkeypatch.setattr(box_head, "SCRATCH_EXAMPLES", 1024)
    log = box_head.train_box_head(cifar_path, tmp_path, scenes=2, epochs=2, cifar_images=512, export=False,
                                  quiet=True, scratch=True)
    assert (tmp_path / "boxes.weights.h5").is_file()
    assert log["recipe"]["name"] == "scratch" and log["recipe"]["label_smoothing"] == fastnet.LABEL_SMOOTHING
    assert len(log["history"]) == 2 and all(np.isfinite(epoch["loss"]) for epoch in log["history"])


@pytest.mark.slow
def test_a_fast_classifier_learns_the_ten_from_cifar_and_real_photos(cifar_path, tiny_path, tmp_path, monkeypatch):
    """A short run on a slice of the data: it learns (the training accuracy rises), keeps the ten classes,
    and scores itself on the whole CIFAR-10 test split and Tiny ImageNet's val photos of the classes. The
    whole training set: CIFAR-10's images, then real photos that each name one of the ten ('none' photos
    are the box model's)."""
    every = fast_classifier.training_set

    def a_slice(data, tiny):
        images, labels, real = every(data, tiny)
        assert images.shape[1:] == (32, 32, 3) and len(images) == len(labels) == 50_000 + real
        assert real > 5000 and labels.max() == NUM_CLASSES - 1
        pick = np.random.default_rng(0).choice(len(labels), 4096, replace=False)
        return images[pick], labels[pick], int((pick >= len(labels) - real).sum())

    monkeypatch.setattr(fast_classifier, "training_set", a_slice)
    monkeypatch.setattr(fast_classifier, "BATCH_SIZE", 128)  # 32 steps an epoch
    log = fast_classifier.train_fast(cifar_path, tiny_path, tmp_path, epochs=5, quiet=True)
    assert (tmp_path / fast_classifier.WEIGHTS_NAME).is_file() and (tmp_path / "MODEL_CARD.md").is_file()
    assert log["history"][-1]["accuracy"] > log["history"][0]["accuracy"]
    assert log["real_photos"] > 0 and log["evaluation"]["real_photos"] == 1050
    assert 0.35 < log["evaluation"]["cifar10_test_top1"] <= 1  # 4096 images, 5 epochs: 0.49 here, chance 0.10
    assert set(log["evaluation"]["real_photos_per_class"]) <= set(fast_classifier.CLASSES)


def test_a_box_model_starts_from_a_fast_classifier(tmp_path):
    """Its ten scores are the fast classifier's, its background score zero, batch norm frozen."""
    from keras import layers

    classifier = fast_classifier.build_model()
    images = np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3)).astype(np.uint8)
    whiten_from(classifier, images, samples=64)
    head = classifier.get_layer("head")
    head.set_weights([np.random.default_rng(1).normal(0, 1, head.get_weights()[0].shape)])
    classifier.save_weights(tmp_path / "fast.weights.h5")
    model = box_head.build_box_model(tmp_path / "fast.weights.h5", fast=True)
    logits = model.predict(images[:8].astype(np.float32), verbose=0)
    assert logits.shape == (8, NUM_CLASSES + 1) and np.allclose(logits[:, box_head.BACKGROUND], 0)
    assert np.allclose(logits[:, :NUM_CLASSES], classifier.predict(images[:8].astype(np.float32), verbose=0), atol=1e-4)
    assert not any(layer.trainable for layer in model.layers if isinstance(layer, layers.BatchNormalization))


def test_the_fast_backbone_is_a_start_of_its_own(tmp_path):
    with pytest.raises(ValueError, match="one of them"):
        box_head.train_box_head("unused", tmp_path, fast_backbone="fast.weights.h5", scratch=True)
    with pytest.raises(ValueError, match="one of them"):
        box_head.train_box_head("unused", tmp_path, fast_backbone="fast.weights.h5", init="boxes.weights.h5")


def test_train_fast_without_real_photos_says_so_in_one_line(capsys):
    from streamsee.cli import EXIT_USER_ERROR, main

    assert main(["train", "fast", "--data", "unused", "--out", "unused"]) == EXIT_USER_ERROR
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "--tiny" in error
