"""The box path's model: the classifier fine-tuned with an eleventh class, background, on proposal crops."""

import json

import numpy as np
import pytest

from streamsee.core.labels import NUM_CLASSES
from streamsee.datasets.scenes import folder_backgrounds
from streamsee.recognition.boxes import DEFAULT_BOX_MODEL, calibrated_min_score, crop_boxes
from streamsee.recognition.classifier import Classifier
from streamsee.recognition.proposals import box_iou, make_proposals
from streamsee.training import boxes as box_head
from streamsee.training.boxes import BACKGROUND

pytestmark = pytest.mark.slow  # training smoke runs

# What the shipped box model achieves (measured, in the comments), minus a margin.
# Since 2026-12-06 the box model also learns from Tiny ImageNet's real photos, so it agrees less with the
# classifier, which learnt from CIFAR-10 alone (0.951 before).
CIFAR_TEST_TOP1_FLOOR = 0.87  # measured 0.893 on these 1000 test images (the classifier: 0.915)
CLASS_AGREEMENT_FLOOR = 0.90  # measured 0.937 with the classifier's top class (0.926 with the one before it)
NEGATIVE_CROPS_REJECTED_FLOOR = 0.98  # measured 0.996 of 471 dlib crops of six negative photos (at 0.94)


def test_jittered_boxes_stay_positives():
    rng = np.random.default_rng(0)
    xyxy = np.array([[10, 20, 110, 90], [300, 200, 520, 430]], np.float32)
    jittered = box_head.jitter_boxes(rng, xyxy, (480, 640), 50)
    assert jittered.shape == (100, 4)
    overlaps = box_iou(jittered, xyxy)
    assert (overlaps[:50, 0] >= 0.6).all() and (overlaps[50:, 1] >= 0.6).all()
    assert (jittered[:, 0] >= 0).all() and (jittered[:, 3] <= 480).all()


def test_labelled_crops(cifar_path, wallpapers):
    from streamsee.datasets.cifar10 import load_cifar10
    from streamsee.datasets.scenes import background_photos

    crops, labels = box_head.labelled_crops(load_cifar10(cifar_path, "train"), background_photos("fit"), scenes=4)
    assert crops.dtype == np.uint8 and crops.shape[1:] == (32, 32, 3) and len(crops) == len(labels)
    assert set(np.unique(labels)) <= set(range(NUM_CLASSES + 1))
    assert (labels == BACKGROUND).sum() > (labels < NUM_CLASSES).sum() > 0


def test_tiny_fine_tuning_run(cifar_path, wallpapers, tmp_path):
    log = box_head.train_box_head(cifar_path, tmp_path, scenes=2, epochs=1, cifar_images=256, export=False,
                                  quiet=True)
    assert (tmp_path / "boxes.weights.h5").is_file() and (tmp_path / box_head.LOG).is_file()
    assert log["cifar_images"] == 256 and log["crops"] > log["background_crops"] > 0
    assert len(log["history"]) == 1 and np.isfinite(log["history"][0]["loss"])


def test_tiny_run_with_pieces_of_the_photos_as_background(cifar_path, tiny_path, wallpapers, tmp_path):
    log = box_head.train_box_head(cifar_path, tmp_path, scenes=2, epochs=1, cifar_images=256, export=False, quiet=True,
                                  tiny=tiny_path, tiny_per_class=2, parts=True, none_pieces=True,
                                  background_share=0.4, real_share=0.5)
    tiny = log["tiny"]
    assert tiny["background_photos"] > 0 and tiny["none_pieces"] == tiny["background_photos"]
    assert tiny["part_crops"] == tiny["photos"] - tiny["background_photos"] > 0
    assert log["background_share"] == 0.4 and tiny["real_share"] == 0.5
    assert len(log["history"]) == 1 and np.isfinite(log["history"][0]["loss"])


def test_part_crops_are_small_pieces_of_their_photos():
    rng = np.random.default_rng(0)
    photos = np.zeros((40, 64, 64, 3), np.uint8)
    photos[:, 16:48, 16:48] = 255  # a white square in the middle of each photo
    pieces = box_head.part_crops(rng, photos)
    assert pieces.shape == (40, 32, 32, 3) and pieces.dtype == np.uint8
    whites = (pieces == 255).all(axis=-1).mean(axis=(1, 2))
    assert 0 < whites.mean() < 1 and (whites < 1).any() and (whites > 0).any()  # pieces at different places
    low, high = box_head.PART_SIDES
    assert high ** 2 < box_head.BACKGROUND_IOU  # a piece's IoU with its photo stays under the background rule


def test_example_weights_share_the_fit_between_background_and_objects_and_real_photos():
    labels = np.array([BACKGROUND] * 6 + [3] * 4)
    real = np.array([True, True, False, False, False, False, True, False, False, False])
    for background_share, real_share in ((0.5, 0.4), (0.35, 0.6)):
        weights = box_head.example_weights(labels, real, background_share, real_share)
        assert weights.mean() == pytest.approx(1)
        background = labels == BACKGROUND
        assert weights[background].sum() / weights.sum() == pytest.approx(background_share)
        assert weights[background & real].sum() / weights[background].sum() == pytest.approx(real_share)
        assert weights[~background & real].sum() / weights[~background].sum() == pytest.approx(real_share)
    with pytest.raises(ValueError, match="background_share must lie between 0 and 1, got 1.5"):
        box_head.example_weights(labels, real, background_share=1.5)


def test_parts_need_tiny_imagenet(tmp_path):
    with pytest.raises(ValueError, match="Tiny ImageNet"):
        box_head.train_box_head("unused", tmp_path, parts=True)
    with pytest.raises(ValueError, match="Tiny ImageNet"):
        box_head.train_box_head("unused", tmp_path, none_pieces=True)
    with pytest.raises(ValueError, match="scratch or init"):
        box_head.train_box_head("unused", tmp_path, scratch=True, init="boxes.weights.h5")


def test_a_warm_restart_starts_from_the_box_models_own_weights(tmp_path):
    from keras import layers

    first = box_head.build_box_model()
    kernel = first.get_layer("score_conv").get_weights()[0]
    kernel[..., BACKGROUND] = 0.5  # unlike a fresh start, whose background score starts at zero
    first.get_layer("score_conv").set_weights([kernel, first.get_layer("score_conv").get_weights()[1]])
    first.save_weights(tmp_path / "boxes.weights.h5")
    warm = box_head.build_box_model(init=tmp_path / "boxes.weights.h5")
    for mine, theirs in zip(warm.get_weights(), first.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    assert not any(layer.trainable for layer in warm.layers if isinstance(layer, layers.BatchNormalization))


def test_box_model_starts_as_the_classifier():
    """Before fine-tuning the ten class scores are the classifier's and background scores zero."""
    from streamsee.training.model import build_model

    classifier = build_model()
    classifier.load_weights(box_head.BACKBONE_WEIGHTS)
    model = box_head.build_box_model()
    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3)).astype(np.float32)
    logits = model.predict(images, verbose=0)
    assert logits.shape == (8, NUM_CLASSES + 1) and np.allclose(logits[:, BACKGROUND], 0)
    assert np.allclose(logits[:, :NUM_CLASSES], classifier.predict(images, verbose=0), atol=1e-4)


def test_box_model_still_knows_the_classes(cifar_path):
    """Fine-tuned on crops, it still names whole CIFAR-10 test images as the classifier does."""
    from streamsee.datasets.cifar10 import load_cifar10
    from streamsee.recognition.classifier import DEFAULT_MODEL

    test = load_cifar10(cifar_path, "test")
    pick = np.random.default_rng(0).choice(len(test), 1000, replace=False)
    with Classifier(DEFAULT_BOX_MODEL) as model, Classifier(DEFAULT_MODEL) as classifier:
        probabilities = model.predict(test.images[pick])
        alone = classifier.predict(test.images[pick])
    assert probabilities.shape == (1000, NUM_CLASSES + 1)
    boxes_top = probabilities[:, :NUM_CLASSES].argmax(1)
    assert (boxes_top == alone.argmax(1)).mean() >= CLASS_AGREEMENT_FLOOR
    assert (boxes_top == test.labels[pick]).mean() >= CIFAR_TEST_TOP1_FLOOR


def test_box_model_rejects_real_negatives(media):
    """Crops that dlib cuts from six photos with none of the classes score under the calibrated threshold."""
    photos = folder_backgrounds(media("negatives"))[:6]
    propose = make_proposals("dlib")
    crops = np.concatenate([crop_boxes(photo, propose(photo)) for photo in photos])
    with Classifier(DEFAULT_BOX_MODEL) as model:
        probabilities = model.predict(crops)
    rejected = (probabilities[:, :NUM_CLASSES].max(1) < calibrated_min_score("dlib")).mean()
    assert len(crops) > 100 and rejected >= NEGATIVE_CROPS_REJECTED_FLOOR, rejected


def test_calibration_picks_the_least_threshold_within_the_false_box_budget(cifar_path, wallpapers, tmp_path):
    from streamsee.training.box_calibration import calibrate

    report = calibrate(cifar_path, tmp_path, scenes=8, false_boxes_per_frame=1.0)
    assert json.loads((tmp_path / "box_calibration.json").read_text()) == json.loads(json.dumps(report))
    for method, sweep in report["sweep"].items():
        thresholds, recall, false_boxes = (np.array(column) for column in zip(*sweep))
        assert (np.diff(thresholds) > 0).all() and thresholds[-1] > 0.999  # fine steps near 1
        assert (np.diff(recall) <= 1e-9).all() and (np.diff(false_boxes) <= 1e-9).all()
        chosen = report["min_score"][method]
        within = thresholds[false_boxes <= 1.0]
        assert chosen == (within[0] if len(within) else 1.0)


def test_tiny_run_at_40_px_with_a_score_for_each_none_class_exports_eleven_scores(cifar_path, tiny_path, wallpapers, tmp_path):
    from streamsee.recognition.boxes import BoxDetector
    from streamsee.recognition.classifier import Classifier

    log = box_head.train_box_head(cifar_path, tmp_path, scenes=2, epochs=1, cifar_images=256, quiet=True,
                                  tiny=tiny_path, tiny_per_class=2, none_classes=True, resized_crops=True, size=40)
    assert log["tiny"]["none_classes"] > 100  # Tiny ImageNet's `none` classes, each its own score while training
    assert np.isfinite(log["history"][0]["loss"]) and 0 <= log["history"][0]["weighted_accuracy"] <= 1
    assert log["input_size"] == 40
    with Classifier(tmp_path / box_head.INT8_NAME) as model:
        assert model.input_size == 40  # read from the exported model
        probabilities = model.predict(np.zeros((2, 40, 40, 3), np.uint8))
        with pytest.raises(ValueError, match=r"\(N, 40, 40, 3\)"):
            model.predict(np.zeros((2, 32, 32, 3), np.uint8))
    assert probabilities.shape == (2, BACKGROUND + 1) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-3)
    with BoxDetector(model_path=tmp_path / box_head.INT8_NAME, min_score=0.0) as detect:  # crops cut at the model's side
        result = detect(np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8))
    assert len(result) > 0 and (result.score <= 1).all()
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "`none` classes had a score of its own" in card and "half the examples first a random part" in card
    assert "resized 64 to 40, 50% of them through 32 px" in card and "squeezed to 40x40" in card and "upscaled to 40x40" in card
    assert tuple(log["resized_crops"]["area"]) == box_head.RESIZED_CROP_AREA
    with pytest.raises(ValueError, match="none_classes widens the shipped classifier's head"):
        box_head.train_box_head(cifar_path, tmp_path, tiny=tiny_path, none_classes=True, scratch=True)


def test_above_32_px_half_the_photos_come_through_32_px(tiny_path):
    from streamsee.datasets.tinyimagenet import load_tinyimagenet

    photos = load_tinyimagenet(tiny_path, "train", per_class=1)
    sharp, softened = photos.at_size(48), box_head.softened(photos, 48)
    assert softened.shape == sharp.shape and softened.dtype == np.uint8
    same = (softened == sharp).all(axis=(1, 2, 3))
    assert 0.35 < 1 - same.mean() < 0.65  # about half changed
    detail = [float(np.abs(np.diff(images.astype(np.int16), axis=2)).mean()) for images in (sharp[~same], softened[~same])]
    assert detail[1] < detail[0]  # and those less sharp
    assert (box_head.softened(photos, 32) == photos.at_size(32)).all()  # at 32 px: as they are
    original = photos.images.copy()
    box_head.softened(photos, 64)
    assert (photos.images == original).all()  # the photos themselves untouched


@pytest.mark.parametrize("side", [32, 48])
def test_resized_crops_are_parts_of_the_image_squeezed_back(side):
    import tensorflow as tf

    image = np.zeros((side, side, 3), np.float32)
    image[:, side // 2:] = 255  # right half white
    crops = [box_head.resized_crop(tf.constant(image), seed=seed, side=side).numpy() for seed in range(12)]
    assert all(crop.shape == (side, side, 3) for crop in crops)
    whites = [float((crop > 127).mean()) for crop in crops]
    assert len({round(white, 2) for white in whites}) > 3  # different parts, of different shapes
