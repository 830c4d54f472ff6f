"""The shipped classifier: accuracy on the real test set, int8 vs float, runtime behaviour."""

import json

import cv2
import numpy as np
import pytest

from streamsee.core.frames import to_bgr
from streamsee.evaluation.cifar import evaluate_classifier
from streamsee.recognition.classifier import DEFAULT_MODEL, MODELS_DIR, Classifier, Ensemble
from streamsee.recognition.runtime import ModelFileError

# What the shipped int8 model scores on the 10,000 JPEG test images (with its mirror view, as
# shipped), minus a hair. The target, 0.91, is not reached yet: see the model card.
INT8_TOP1_FLOOR = 0.897  # measured 0.8999 (float 0.9007; one view: int8 0.8902, float 0.8905)


@pytest.fixture(scope="module")
def predictions(cifar_test):
    """Test-set predictions of both shipped models, as shipped (with the mirror view) and of one view."""
    result = {}
    for name in ("classifier_float.tflite", "classifier_int8.tflite"):
        with Classifier(MODELS_DIR / name) as classifier:
            result[name] = classifier.predict(cifar_test.images).argmax(1)
        with Classifier(MODELS_DIR / name, mirror=False) as classifier:
            result[name, "one view"] = classifier.predict(cifar_test.images).argmax(1)
    return result


@pytest.mark.slow
def test_shipped_int8_accuracy(predictions, cifar_test):
    top1 = float((predictions["classifier_int8.tflite"] == cifar_test.labels).mean())
    assert top1 >= INT8_TOP1_FLOOR


@pytest.mark.slow
def test_the_mirror_view_helps(predictions, cifar_test):
    with_mirror = (predictions["classifier_int8.tflite"] == cifar_test.labels).mean()
    one_view = (predictions["classifier_int8.tflite", "one view"] == cifar_test.labels).mean()
    assert with_mirror > one_view + 0.003


@pytest.mark.slow
def test_int8_close_to_float(predictions, cifar_test):
    int8, float_ = predictions["classifier_int8.tflite"], predictions["classifier_float.tflite"]
    assert (int8 == float_).mean() >= 0.99
    assert (float_ == cifar_test.labels).mean() - (int8 == cifar_test.labels).mean() <= 0.005


def test_model_card_matches_the_shipped_files():
    log = json.loads((MODELS_DIR / "training_log.json").read_text())
    exported = log["exported"]
    assert exported["macs"] <= 41_000_000 and exported["params"] <= 1_000_000
    assert exported["classifier_int8.tflite"]["bytes"] == DEFAULT_MODEL.stat().st_size
    card = (MODELS_DIR / "MODEL_CARD.md").read_text()
    assert f"{exported['classifier_int8.tflite']['test_top1']:.2%}" in card


@pytest.fixture(scope="module")
def shipped_report(cifar_path):
    """`streamsee evaluate`'s report of the shipped int8 model (scored once, read by two tests)."""
    return evaluate_classifier(cifar_path)


@pytest.mark.slow
def test_evaluate_report(shipped_report):
    report = shipped_report
    assert report.n == 10000 and report.top1 >= INT8_TOP1_FLOOR
    assert np.array(report.confusion).sum() == 10000
    assert np.trace(np.array(report.confusion)) / 10000 == pytest.approx(report.top1)
    assert set(report.per_class) == {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                     "ship", "truck"}


@pytest.mark.slow
def test_an_ensemble_is_the_mean_of_its_members_scores(cifar_sample, cifar_test):
    alone = evaluate_classifier(cifar_sample, [DEFAULT_MODEL])
    twice = evaluate_classifier(cifar_sample, [DEFAULT_MODEL, DEFAULT_MODEL])  # the mean of equal scores: the same
    assert alone.n == 500
    assert (twice.top1, twice.top1_single_view, twice.confusion) == (alone.top1, alone.top1_single_view, alone.confusion)
    assert twice.model == f"{DEFAULT_MODEL} + {DEFAULT_MODEL}"
    float_model = MODELS_DIR / "classifier_float.tflite"
    with Ensemble([DEFAULT_MODEL, float_model]) as ensemble:
        pair = ensemble.logits(cifar_test.images[:256])
    with Classifier(DEFAULT_MODEL) as int8, Classifier(float_model) as fp32:
        expected = (int8.logits(cifar_test.images[:256]) + fp32.logits(cifar_test.images[:256])) / 2
    np.testing.assert_allclose(pair, expected, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="at least one model"):
        evaluate_classifier(cifar_sample, [])


@pytest.mark.slow
def test_batches_of_any_size_give_the_same_answers(cifar_test):
    crops = cifar_test.images[:70]
    with Classifier() as classifier:
        whole = classifier.predict(crops, batch_size=64)
        one_by_one = np.concatenate([classifier.predict(crop[None]) for crop in crops[:5]])
    np.testing.assert_allclose(whole[:5], one_by_one, atol=1e-5)


def test_crops_are_cut_at_the_side_the_model_was_exported_at():
    from streamsee.core.frames import resize_squares
    from streamsee.recognition.boxes import DEFAULT_BOX_MODEL, crop_boxes

    with Classifier() as classifier, Classifier(DEFAULT_BOX_MODEL) as box_model:
        assert classifier.input_size == box_model.input_size == 32  # as shipped
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[:, 80:] = 255
    crops = crop_boxes(frame, np.array([[0, 0, 160, 120], [60, 10, 100, 50]], np.float32), 48)
    assert crops.shape == (2, 48, 48, 3) and crops[0, :, :20].max() == 0 and crops[0, :, 28:].min() == 255
    small = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3), np.uint8)
    assert resize_squares(small, 32) is small and resize_squares(small, 48).shape == (3, 48, 48, 3)
    assert resize_squares(small[:0], 48).shape == (0, 48, 48, 3)


def test_channel_layouts_are_converted():
    grey = np.full((40, 50), 7, np.uint8)
    assert to_bgr(grey).shape == (40, 50, 3)
    bgra = np.zeros((40, 50, 4), np.uint8)
    bgra[..., 2] = 200
    assert to_bgr(bgra)[0, 0].tolist() == [0, 0, 200]
    deep = np.full((8, 8, 3), 65535, np.uint16)
    assert to_bgr(deep).max() == 255
    with pytest.raises(ValueError, match="float64"):
        to_bgr(np.zeros((4, 4, 3)))


def test_missing_and_corrupt_model_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.tflite"):
        Classifier(tmp_path / "nope.tflite")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"definitely not a flatbuffer" * 10)
    with pytest.raises(ModelFileError, match="bad.tflite"):
        Classifier(bad)


def test_close_twice_and_use_after_close():
    classifier = Classifier()
    classifier.close()
    classifier.close()
    with pytest.raises(ValueError, match="closed"):
        classifier.predict(np.zeros((1, 32, 32, 3), np.uint8))


def test_a_cat_photo(media):
    image = cv2.imread(str(media("photos/cat_chelsea.png")))
    with Classifier() as classifier:
        probabilities = classifier.classify(image)
    assert 3 in probabilities.argsort()[::-1][:3]  # 3 = cat
