"""A real (tiny) FCN head training run through the same code as `streamsee train fcn`."""

import json

import numpy as np
import pytest

pytest.importorskip("keras")

from streamsee.core.labels import BACKGROUND_ID  # noqa: E402
from streamsee.recognition.fcn import ScoreMap  # noqa: E402
from streamsee.recognition.regions import ObjectFinder  # noqa: E402
from streamsee.recognition.segmenter import Segmenter  # noqa: E402
from streamsee.training import fcn as train_fcn  # noqa: E402

pytestmark = pytest.mark.slow  # training smoke runs


def test_fcn_architecture_starts_from_the_classifier():
    model = train_fcn.build_fcn()
    logits = model(np.zeros((1, 64, 96, 3), "float32"))
    assert logits.shape == (1, 32, 48, 11)  # stride 2, ten classes + background
    assert not model.get_layer("layer3_conv").trainable  # heads only: the backbone stays as shipped
    names = {layer.name for layer in model.layers}
    assert {"score_stride8", "score_stride4", "score_stride2", "up_stride4", "up_stride2"} <= names


def test_tiny_training_run_exports_and_calibrates(cifar_path, wallpapers, tmp_path, monkeypatch):
    monkeypatch.setattr(train_fcn, "CALIBRATION_SCENES", 24)  # the sweep as shipped, on fewer scenes
    log = train_fcn.train_fcn(cifar_path, tmp_path, steps=30, quiet=True)
    assert log["history"][-1]["step"] == 30 and np.isfinite(log["history"][-1]["loss"])
    calibration = json.loads((tmp_path / "fcn_calibration.json").read_text())
    assert calibration["max_background"] in train_fcn.MAX_BACKGROUND_SWEEP
    assert len(calibration["sweep"]) == len(train_fcn.MAX_BACKGROUND_SWEEP) and calibration["scenes"] == 24
    assert "Claim threshold" in (tmp_path / "MODEL_CARD.md").read_text()
    with Segmenter(ScoreMap(tmp_path / train_fcn.INT8_NAME), ObjectFinder(max_background=0.5)) as segment:
        result = segment(np.full((120, 160, 3), 90, np.uint8))
    assert result.class_map.shape == (120, 160)
    assert set(np.unique(result.class_map)) <= set(range(10)) | {BACKGROUND_ID}


def test_fine_tuning_with_the_classifiers_own_loss(cifar_path, tmp_path):
    # The FCN and the classifier share their backbone: the classification loss trains the very
    # weights the FCN uses, and both losses are logged.
    model, classifier = train_fcn.build_fcn_and_classifier(fine_tune=True)
    shared = {id(weight) for weight in model.trainable_weights} & {id(weight) for weight in classifier.trainable_weights}
    assert len(shared) == 8 and model.get_layer("layer3_conv").trainable  # the eight convolution kernels
    log = train_fcn.train_fcn(cifar_path, tmp_path, steps=6, fine_tune=True, classify_weight=1.0, export=False,
                              quiet=True)
    last = log["history"][-1]
    assert log["classify_weight"] == 1.0 and np.isfinite(last["loss"])
    assert 0.5 < last["class_accuracy"] <= 1.0  # the shipped classifier's features: most training images right
    assert 0.0 <= last["pixel_accuracy"] <= 1.0


def test_classification_loss_needs_a_fine_tuned_backbone(cifar_path, tmp_path):
    with pytest.raises(ValueError, match="--fine-tune"):
        train_fcn.train_fcn(cifar_path, tmp_path, steps=2, classify_weight=1.0, export=False, quiet=True)


def test_classification_loss_weight_is_not_negative(cifar_path, tmp_path):
    with pytest.raises(ValueError, match="0 or more, not -1.0"):
        train_fcn.train_fcn(cifar_path, tmp_path, steps=2, fine_tune=True, classify_weight=-1.0, export=False,
                            quiet=True)


def test_a_finished_run_is_not_fitted_again(cifar_path, tmp_path):
    first = train_fcn.train_fcn(cifar_path, tmp_path, steps=3, export=False, quiet=True)
    weights = (tmp_path / "fcn.weights.h5").read_bytes()
    again = train_fcn.train_fcn(cifar_path, tmp_path, steps=3, export=False, quiet=True)
    assert again["history"] == first["history"]
    assert (tmp_path / "fcn.weights.h5").read_bytes() == weights
    longer = train_fcn.train_fcn(cifar_path, tmp_path, steps=4, export=False, quiet=True)  # other settings: fitted
    assert longer["history"][-1]["step"] == 4


def test_scenes_on_the_wallpapers_with_chosen_object_sides(cifar_path, wallpapers, tmp_path):
    from streamsee.datasets.cifar10 import load_cifar10
    from streamsee.datasets.scenes import background_photos

    train = load_cifar10(cifar_path, "train")
    images, maps = next(train_fcn.scene_batches(train.images[:200], train.labels[:200], background_photos("fit"),
                                                object_side=(40, 40)))
    assert images.shape == (train_fcn.BATCH_SIZE, train_fcn.CROP, train_fcn.CROP, 3)
    objects = maps != train_fcn.BACKGROUND
    assert objects.any()
    # label maps at stride 2: each (non-overlapping) 40-px object covers 20 x 20 cells; zero to three a scene
    assert set(objects.sum(axis=(1, 2)).tolist()) <= {0, 400, 800, 1200}
    log = train_fcn.train_fcn(cifar_path, tmp_path, steps=2, backgrounds="photos", object_side=(12, 24),
                              export=False, quiet=True)
    assert log["object_side"] == (12, 24) and "wallpapers" in log["backgrounds"]


@pytest.mark.parametrize("settings, message", [
    ({"backgrounds": "beach"}, "not 'beach'"),
    ({"object_side": (40, 20)}, r"smallest first, not \(40, 20\)"),
    ({"object_side": (4, 20)}, r"from 8 to 128 px"),
])
def test_bad_scene_settings_are_refused(cifar_path, tmp_path, settings, message):
    with pytest.raises(ValueError, match=message):
        train_fcn.train_fcn(cifar_path, tmp_path, steps=2, export=False, quiet=True, **settings)
