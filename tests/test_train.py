"""A real (tiny) training run through the same code as `streamsee train`, then export."""

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from streamsee.datasets.cifar10 import load_cifar10  # noqa: E402
from streamsee.recognition.classifier import Classifier  # noqa: E402
from streamsee.training import classifier as training  # noqa: E402

pytestmark = pytest.mark.slow  # training smoke runs


def training_loss(model, split) -> float:
    model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    targets = keras.utils.to_categorical(split.labels, 10)
    result = model.evaluate(split.images.astype("float32"), targets, verbose=0, batch_size=128, return_dict=True)
    return float(result["loss"])


@pytest.fixture(scope="module")
def smoke_run(cifar_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    log = training.train(cifar_path, out, epochs=1, limit=640, batch_size=32, quiet=True)
    return out, log


def test_model_budget():
    model = training.build_model()
    assert training.count_macs(model) <= 41_000_000
    assert model.count_params() <= 1_000_000
    assert not any(isinstance(layer, keras.layers.Dense) for layer in model.layers)
    frame_model = training.build_model(input_shape=(None, None, 3))
    frame_model.set_weights(model.get_weights())
    scores = keras.Model(frame_model.input, frame_model.get_layer("scores").output)
    assert scores(np.zeros((1, 240, 320, 3), "float32")).shape == (1, 30, 40, 10)  # a score map at stride 8


def test_one_epoch_lowers_the_loss(smoke_run, cifar_path):
    out, log = smoke_run
    assert len(log["history"]) == 1 and log["limit"] == 640
    seen = training.subset(load_cifar10(cifar_path, "train"), 640, training.SEED)
    keras.utils.set_random_seed(training.SEED)
    keras.mixed_precision.set_global_policy("float32")
    untrained = training.build_model()  # the same seed gives the same starting weights
    before = training_loss(untrained, seen)
    after = training_loss(keras.models.load_model(out / training.CHECKPOINT), seen)
    assert after < before - 0.05, (before, after)


def test_log_checkpoint_and_exports(smoke_run):
    out, log = smoke_run
    saved = json.loads((out / training.LOG).read_text())
    entry = saved["history"][0]
    assert set(entry) == {"epoch", "loss", "train_accuracy", "test_accuracy", "seconds"}
    assert saved["exported"]["classifier_int8.tflite"]["bytes"] > 100_000
    card = (out / "MODEL_CARD.md").read_text()
    assert "Produced by" in card and "classifier_int8.tflite" in card and "M multiply-adds" in card
    with Classifier(out / "classifier_int8.tflite") as classifier:
        probabilities = classifier.predict(np.zeros((5, 32, 32, 3), np.uint8))
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-4)


def test_resume_refuses_other_settings(smoke_run, cifar_path):
    out, _ = smoke_run
    with pytest.raises(ValueError, match="resume it with the same settings"):
        training.train(cifar_path, out, epochs=2, limit=640, batch_size=32, quiet=True)


def test_resume_of_a_finished_run_trains_nothing(smoke_run, cifar_path):
    out, log = smoke_run
    again = training.train(cifar_path, out, epochs=1, limit=640, batch_size=32, quiet=True)
    assert again["history"] == log["history"]


def test_training_batches_are_exact_crops_and_repeat_on_resume():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 120, (64, 32, 32, 3), dtype=np.uint8)  # below 128, so cutout holes stand out
    labels = rng.integers(0, 10, 64)
    batches = training.TrainingBatches(images, labels, batch_size=16)
    first_epoch = [batches[i] for i in range(len(batches))]
    batches.on_epoch_end()
    second = batches[0]
    assert not np.array_equal(second[0], first_epoch[0][0])  # reshuffled, re-augmented
    resumed = training.TrainingBatches(images, labels, batch_size=16, first_epoch=1)
    np.testing.assert_array_equal(resumed[0][0], second[0])  # a resumed run sees the same batches
    x, y = first_epoch[0]
    assert x.shape == (16, 32, 32, 3) and x.dtype == np.float32 and y.shape == (16, 10)
    order = np.random.default_rng((training.SEED, 0)).permutation(64)[:16]
    np.testing.assert_array_equal(y.argmax(1), labels[order])
    padded = np.pad(images, ((0, 0), (4, 4), (4, 4), (0, 0)), mode="reflect").astype(np.float32)
    for crop, index in zip(x, order):
        hole = crop == 128
        assert 0 < hole.all(axis=2).sum() <= training.CUTOUT ** 2 + 2 * training.CUTOUT + 1
        found = False
        for dy in range(9):
            for dx in range(9):
                window = padded[index, dy:dy + 32, dx:dx + 32]
                for view in (window, window[:, ::-1]):
                    found |= np.array_equal(np.where(hole, 128, view), crop)
        assert found, "every training image is a 32x32 window of the padded image, maybe mirrored"


def test_distillation_targets_and_card(smoke_run, cifar_path, tmp_path):
    out, _ = smoke_run
    weights = out / "classifier.weights.h5"
    keras_teacher = training.build_teacher([weights, weights])
    split = training.subset(load_cifar10(cifar_path, "test"), 32, 0)
    with training.Teacher([weights, weights]) as teacher:
        batches = training.TrainingBatches(split.images, split.labels, batch_size=32, teacher=teacher)
        images, targets = batches[0]
    labels = split.labels[batches.order[:32]]
    expected = training.DISTILL * keras.ops.convert_to_numpy(keras.ops.softmax(keras_teacher.predict(images, verbose=0)))
    expected[np.arange(32), labels] += 1 - training.DISTILL
    np.testing.assert_allclose(targets, expected, atol=2e-2)  # bfloat16 teacher scores
    np.testing.assert_allclose(targets.sum(1), 1, atol=1e-3)

    student = tmp_path / "student"
    log = training.train(cifar_path, student, epochs=1, limit=256, batch_size=32, quiet=True, teachers=[weights])
    assert log["recipe"]["teachers"][0]["sha256"] == training.file_digest(weights)
    assert log["recipe"]["distill"] == training.DISTILL
    card = (student / "MODEL_CARD.md").read_text()
    assert "Teacher 1 of 1" in card and "## History" in card
    assert f"### Teacher 1: `{weights}`" in card  # the teacher's own card, in the History section
    assert card.count("The CIFAR-10 classifier that both recognition paths share") == 2
    assert not list(student.glob("teacher1_*"))  # one card a model: no copies beside the weights
    with pytest.raises(ValueError, match="teachers' sha256"):
        training.train(cifar_path, student, epochs=1, limit=256, batch_size=32, quiet=True)
    with pytest.raises(FileNotFoundError, match="--teacher"):
        training.train(cifar_path, tmp_path / "other", epochs=1, teachers=[tmp_path / "missing.h5"])


def test_exported_teachers_run_in_litert_with_the_mirror_view(smoke_run, cifar_path):
    out, _ = smoke_run
    split = training.subset(load_cifar10(cifar_path, "test"), 64, 0)
    images = split.images.astype(np.float32)
    int8, weights = out / "classifier_int8.tflite", out / "classifier.weights.h5"
    with Classifier(int8) as shipped:
        as_shipped = shipped.logits(split.images)
    with training.Teacher([int8]) as teacher:
        np.testing.assert_allclose(teacher.logits(images), as_shipped, atol=1e-5)
    with training.Teacher([int8, weights]) as mixed:  # an ensemble of both kinds: the mean of their scores
        keras_scores = keras.ops.convert_to_numpy(training.build_teacher([weights]).predict(images, verbose=0))
        np.testing.assert_allclose(mixed.logits(images), (as_shipped + keras_scores) / 2, atol=1e-3)


def test_a_wider_run_teaches_through_its_exported_model(cifar_path, tmp_path):
    wide = tmp_path / "wide"
    log = training.train(cifar_path, wide, epochs=1, limit=256, batch_size=32, quiet=True, width=40)
    assert log["model"] == "cifar_resnet9_w40" and log["recipe"]["width"] == 40
    assert log["macs"] > 41_000_000  # four times the shipped net's cost: a teacher only
    assert "not for shipping" in (wide / "MODEL_CARD.md").read_text()
    with pytest.raises(ValueError, match="width"):
        training.train(cifar_path, wide, epochs=1, limit=256, batch_size=32, quiet=True)  # the default width
    student = training.train(cifar_path, tmp_path / "student", epochs=1, limit=256, batch_size=32, quiet=True,
                             export=False, teachers=[wide / "classifier_int8.tflite"])
    assert student["recipe"]["teachers"][0]["weights"].endswith("classifier_int8.tflite")
    assert student["recipe"]["width"] == training.WIDTH and np.isfinite(student["history"][-1]["loss"])
    with pytest.raises(ValueError, match="width"):
        training.train(cifar_path, tmp_path / "other", epochs=1, width=0)


def test_real_photos_join_the_training_images_at_their_classes(tiny_path):
    """`streamsee train --tiny`: Tiny ImageNet's training photos of the classes that map to one of the
    ten, at 32 px, after the CIFAR-10 images; the 'none' photos stay out (they are the box model's background)."""
    images = np.zeros((5, 32, 32, 3), np.uint8)
    labels = np.arange(5, dtype=np.int64)
    joined, joined_labels = training.with_real_photos(images, labels, tiny_path)
    assert joined.shape[1:] == (32, 32, 3) and len(joined) == len(joined_labels) > 5000
    np.testing.assert_array_equal(joined_labels[:5], labels)
    assert joined_labels.dtype == labels.dtype and joined_labels.max() <= 9
    assert joined[5:].std() > 10  # photos, not blanks
