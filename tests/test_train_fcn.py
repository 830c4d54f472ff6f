"""A real (tiny) FCN head training run through the same code as `streamsee train fcn`."""

import json

import numpy as np
import pytest

pytest.importorskip("keras")

from streamsee import train_fcn  # noqa: E402
from streamsee.fcn import Segmenter  # noqa: E402
from streamsee.labels import BACKGROUND_ID  # noqa: E402


def test_fcn_architecture_starts_from_the_classifier():
    model = train_fcn.build_fcn()
    logits = model(np.zeros((1, 64, 96, 3), "float32"))
    assert logits.shape == (1, 32, 48, 11)  # stride 2, ten classes + background
    assert not model.get_layer("layer3_conv").trainable  # heads only: the backbone stays as shipped
    names = {layer.name for layer in model.layers}
    assert {"score_stride8", "score_stride4", "score_stride2", "up_stride4", "up_stride2"} <= names


def test_tiny_training_run_exports_and_calibrates(cifar_path, wallpapers, tmp_path):
    log = train_fcn.train_fcn(cifar_path, tmp_path, steps=30, quiet=True)
    assert log["history"][-1]["step"] == 30 and np.isfinite(log["history"][-1]["loss"])
    calibration = json.loads((tmp_path / "fcn_calibration.json").read_text())
    assert 0.0 <= calibration["min_probability"] < 1.0 and len(calibration["sweep"]) == 10
    assert "Claim threshold" in (tmp_path / "MODEL_CARD.md").read_text()
    with Segmenter(tmp_path / train_fcn.INT8_NAME, min_probability=0.0) as segment:
        result = segment(np.full((120, 160, 3), 90, np.uint8))
    assert result.class_map.shape == (120, 160)
    assert set(np.unique(result.class_map)) <= set(range(10)) | {BACKGROUND_ID}
