"""The from-scratch crop classifier (training/fastnet.py) and the box model's scratch recipe."""

import numpy as np
import pytest

from streamsee.core.labels import NUM_CLASSES
from streamsee.training import boxes as box_head
from streamsee.training.fastnet import WHITEN_PATCH, build_fast_model, whiten_from
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
    rate = box_head.TriangularRate(0.2, warmup=10, total=110)
    assert float(rate(0)) == 0 and float(rate(10)) == pytest.approx(0.2)
    assert float(rate(60)) == pytest.approx(0.1) and float(rate(110)) == 0 and float(rate(200)) == 0


@pytest.mark.slow
def test_tiny_scratch_run(cifar_path, wallpapers, tmp_path, monkeypatch):
    monkeypatch.setattr(box_head, "SCRATCH_EXAMPLES", 1024)
    log = box_head.train_box_head(cifar_path, tmp_path, scenes=2, epochs=2, cifar_images=512, export=False,
                                  quiet=True, scratch=True)
    assert (tmp_path / "boxes.weights.h5").is_file()
    assert log["recipe"]["name"] == "scratch" and log["recipe"]["label_smoothing"] == box_head.LABEL_SMOOTHING
    assert len(log["history"]) == 2 and all(np.isfinite(epoch["loss"]) for epoch in log["history"])
