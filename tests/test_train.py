"""A real (tiny) training run through the same code as `streamsee train`, then export."""

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from streamsee import train as training  # noqa: E402
from streamsee.classifier import Classifier  # noqa: E402
from streamsee.data import load_cifar10  # noqa: E402


def training_loss(model, split) -> float:
    model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    targets = keras.utils.to_categorical(split.labels, 10)
    result = model.evaluate(split.images.astype("float32"), targets, verbose=0, batch_size=128, return_dict=True)
    return float(result["loss"])


@pytest.fixture(scope="module")
def smoke_run(cifar_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    log = training.train(cifar_path, out, epochs=1, limit=384, batch_size=32, quiet=True)
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
    assert len(log["history"]) == 1 and log["limit"] == 384
    seen = training.subset(load_cifar10(cifar_path, "train"), 384, training.SEED)
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
        training.train(cifar_path, out, epochs=2, limit=384, batch_size=32, quiet=True)


def test_resume_of_a_finished_run_trains_nothing(smoke_run, cifar_path):
    out, log = smoke_run
    again = training.train(cifar_path, out, epochs=1, limit=384, batch_size=32, quiet=True)
    assert again["history"] == log["history"]
