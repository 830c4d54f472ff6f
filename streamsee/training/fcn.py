"""Train the FCN heads: the shared classifier made fully convolutional, with skip layers.

Reads top to bottom: constants, build_fcn(), data (scenes composed on the fly), fit, export.
Run it as ``streamsee train fcn --data PATH --out DIR``. The backbone is the shipped classifier
(its Keras weights, classifier.weights.h5); score layers on three depths (strides 8, 4, 2) are
fused FCN-style: coarse scores upsampled 2x (bilinear) and summed with the finer ones. Output:
logits for the ten classes plus background at stride 2; the runtime upsamples to the frame.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: E402

from streamsee.core.files import MODELS_DIR  # noqa: E402
from streamsee.core.labels import BACKGROUND_ID, NUM_CLASSES  # noqa: E402
from streamsee.datasets.cifar10 import load_cifar10  # noqa: E402
from streamsee.datasets.scenes import background_photos, compose, compose_set, skimage_backgrounds  # noqa: E402
from streamsee.evaluation.scenes import evaluate_fcn  # noqa: E402
from streamsee.recognition.regions import ObjectFinder  # noqa: E402
from streamsee.recognition.segmenter import Segmenter  # noqa: E402
from streamsee.training.classifier import LABEL_SMOOTHING, TrainingBatches  # noqa: E402
from streamsee.training.model import build_model  # noqa: E402

# ---------------------------------------------------------------- constants
BACKBONE_WEIGHTS = MODELS_DIR / "classifier" / "classifier.weights.h5"
CROP = 128  # training scenes are CROP x CROP at the working resolution
OBJECT_SIDE = (20, 88)  # pasted object sides at the working resolution, pixels
OBJECTS = (0, 3)  # objects per training scene (0 = empty scene)
BATCH_SIZE = 16
STEPS = 1500
LEARNING_RATE = 1e-3  # Adam, cosine decay to 0
FINE_TUNE_BACKBONE = False  # heads only: the classifier's features stay exactly as shipped
# With a fine-tuned backbone: weight of a second loss, the classifier's own (its global-pooled
# head) on augmented CIFAR-10 training images, meant to keep the shared features telling the
# classes of real photos apart while the heads learn the scenes (0: off; measured, see docs/experiments.md).
CLASSIFY_WEIGHT = 0.0
CLASSIFY_BATCH = 64
BACKGROUND = NUM_CLASSES  # index of the background channel in the FCN output
SEED = 0
# Photos the scenes are composed on: "skimage" (scikit-image's and scikit-learn's bundled photos but the
# calibration ones) or "photos" (those and Debian's fitting wallpapers, scenes.WALLPAPERS["fit"]: real
# landscapes, plants and rooms, as the box model is fitted on).
BACKGROUNDS = "skimage"
BACKGROUND_CHOICES = {
    "skimage": "scikit-image photos (see scenes.py), all but CALIBRATION_BACKGROUNDS",
    "photos": "scikit-image photos and Debian's fitting wallpapers (scenes.background_photos('fit'))",
}
LOG = "fcn_training_log.json"
# Background probabilities under which a pixel counts as an object, tried by calibrate()
MAX_BACKGROUND_SWEEP = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
# Scenes it tries them on: on 80 scenes the best threshold changed with the scenes drawn, on 300 the
# thresholds from 0.02 to 0.1 were within 0.006 mIoU of each other; with the objectness FCN at 256 px,
# 200 chose 0.1 by 0.004 where 1,000 dev and selection scenes all preferred 0.2, and 600 chose 0.2 (docs/experiments.md)
CALIBRATION_SCENES = 600
FLOAT_NAME = "fcn_float.tflite"
INT8_NAME = "fcn_int8.tflite"


# ---------------------------------------------------------------- model
def build_fcn(backbone_weights: str | os.PathLike | None = BACKBONE_WEIGHTS,
              fine_tune: bool = FINE_TUNE_BACKBONE) -> keras.Model:
    """The classifier with score layers at strides 8, 4 and 2 fused through skip connections.

    With fine_tune the backbone's convolutions train too; batch-norm statistics stay frozen.
    """
    return build_fcn_and_classifier(backbone_weights, fine_tune)[0]


def build_fcn_and_classifier(backbone_weights: str | os.PathLike | None = BACKBONE_WEIGHTS,
                             fine_tune: bool = FINE_TUNE_BACKBONE) -> tuple[keras.Model, keras.Model]:
    """The FCN (as build_fcn) and the classifier it grew from, sharing the backbone's layers."""
    backbone = build_model(input_shape=(None, None, 3))
    if backbone_weights is not None:
        backbone.load_weights(backbone_weights)
    backbone.trainable = fine_tune
    for layer in backbone.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
    classes = NUM_CLASSES + 1

    coarse = layers.Conv2D(classes, 1, name="score_stride8")(backbone.get_layer("stage3").output)
    middle = layers.Conv2D(classes, 1, kernel_initializer="zeros", name="score_stride4")(
        backbone.get_layer("stage2").output)
    fine = layers.Conv2D(classes, 1, kernel_initializer="zeros", name="score_stride2")(
        backbone.get_layer("stage1").output)
    x = upsample_2x(classes, "up_stride4")(coarse)
    x = layers.Add(name="fuse_stride4")([x, middle])
    x = upsample_2x(classes, "up_stride2")(x)
    logits = layers.Add(name="fuse_stride2")([x, fine])
    model = keras.Model(backbone.input, logits, name="fcn_stride2")

    # Start the stride-8 scores from the classifier's own head: ten class scores as trained,
    # background at zero, so training begins from "the classifier, run convolutionally".
    kernel, bias = backbone.get_layer("score_conv").get_weights()
    scale = 0.125  # the classifier's "scores" rescaling
    model.get_layer("score_stride8").set_weights([
        np.concatenate([kernel * scale, np.zeros_like(kernel[..., :1])], axis=-1),
        np.concatenate([bias * scale, [0.0]]).astype(np.float32),
    ])
    return model, backbone


def upsample_2x(channels: int, name: str) -> layers.Layer:
    """2x upsampling as a fixed transposed convolution initialised bilinear (runs at any input size)."""
    taps = np.array([0.25, 0.75, 0.75, 0.25], np.float32)
    kernel = np.zeros((4, 4, channels, channels), np.float32)
    for c in range(channels):
        kernel[:, :, c, c] = np.outer(taps, taps)
    return layers.Conv2DTranspose(channels, 4, strides=2, padding="same", use_bias=False, trainable=False,
                                  kernel_initializer=keras.initializers.Constant(kernel), name=name)


# ---------------------------------------------------------------- data
def scene_batches(images: np.ndarray, labels: np.ndarray, photos, seed: int = SEED,
                  object_side: tuple[int, int] = OBJECT_SIDE):
    """Endless batches of composed training scenes with label maps at stride 2."""
    rng = np.random.default_rng(seed)
    while True:
        batch_images = np.empty((BATCH_SIZE, CROP, CROP, 3), np.float32)
        batch_labels = np.empty((BATCH_SIZE, CROP // 2, CROP // 2), np.int32)
        for i in range(BATCH_SIZE):
            scene = compose(rng, photos, images, labels, size=(CROP, CROP), objects=OBJECTS, side=object_side,
                            jitter=True)
            batch_images[i] = scene.image
            label_map = scene.label_map[1::2, 1::2].astype(np.int32)
            batch_labels[i] = np.where(label_map == BACKGROUND_ID, BACKGROUND, label_map)
        yield batch_images, batch_labels


def classify_batches(images: np.ndarray, labels: np.ndarray, seed: int = SEED):
    """Endless batches of augmented CIFAR-10 training images (as `streamsee train` sees them), one-hot."""
    batches = TrainingBatches(images, labels, CLASSIFY_BATCH, seed=seed)
    while True:
        for index in range(len(batches)):
            yield batches[index]
        batches.on_epoch_end()


def multitask_batches(images: np.ndarray, labels: np.ndarray, photos, seed: int = SEED,
                      object_side: tuple[int, int] = OBJECT_SIDE):
    """Scenes with label maps, and CIFAR-10 images with their classes, side by side."""
    for (scenes, maps), (crops, targets) in zip(scene_batches(images, labels, photos, seed, object_side),
                                                classify_batches(images, labels, seed)):
        yield (scenes, crops), (maps, targets)


# ---------------------------------------------------------------- fit
def train_fcn(data: str | os.PathLike, out: str | os.PathLike, steps: int = STEPS,
              backbone_weights: str | os.PathLike = BACKBONE_WEIGHTS, fine_tune: bool = FINE_TUNE_BACKBONE,
              learning_rate: float = LEARNING_RATE, classify_weight: float = CLASSIFY_WEIGHT,
              backgrounds: str = BACKGROUNDS, object_side: tuple[int, int] = OBJECT_SIDE, export: bool = True,
              quiet: bool = False) -> dict:
    object_side = tuple(int(side) for side in object_side)
    if len(object_side) != 2 or not 8 <= object_side[0] <= object_side[1] <= CROP:
        raise ValueError(f"object sides must be two sizes from 8 to {CROP} px, smallest first, not {object_side!r}")
    if backgrounds not in BACKGROUND_CHOICES:
        raise ValueError(f"backgrounds must be one of {', '.join(map(repr, BACKGROUND_CHOICES))}, not {backgrounds!r}")
    if classify_weight < 0:
        raise ValueError(f"the classification loss weight must be 0 or more, not {classify_weight!r}")
    if classify_weight and not fine_tune:
        raise ValueError(f"a classification loss (weight {classify_weight!r}) only matters when the backbone "
                         "is fine-tuned too (--fine-tune)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(SEED)
    train_split = load_cifar10(data, "train")  # training images only: test images are for evaluation
    photos = skimage_backgrounds() if backgrounds == "skimage" else background_photos("fit")

    model, classifier = build_fcn_and_classifier(backbone_weights, fine_tune)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    pixel_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    pixel_accuracy = keras.metrics.SparseCategoricalAccuracy(name="pixel_accuracy")
    scene_spec = (tf.TensorSpec((BATCH_SIZE, CROP, CROP, 3), tf.float32),
                  tf.TensorSpec((BATCH_SIZE, CROP // 2, CROP // 2), tf.int32))
    if classify_weight:
        # One model with two inputs: scenes through the FCN, CIFAR-10 images through the classifier.
        scenes, crops = keras.Input((CROP, CROP, 3), name="scene"), keras.Input((32, 32, 3), name="crop")
        trainer = keras.Model([scenes, crops], [model(scenes), classifier(crops)], name="fcn_and_classifier")
        trainer.compile(optimizer=keras.optimizers.Adam(schedule),
                        loss=[pixel_loss, keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=LABEL_SMOOTHING)],
                        loss_weights=[1.0, classify_weight],
                        metrics=[[pixel_accuracy], [keras.metrics.CategoricalAccuracy(name="class_accuracy")]])
        crop_spec = (tf.TensorSpec((CLASSIFY_BATCH, 32, 32, 3), tf.float32),
                     tf.TensorSpec((CLASSIFY_BATCH, NUM_CLASSES), tf.float32))
        dataset = tf.data.Dataset.from_generator(
            lambda: multitask_batches(train_split.images, train_split.labels, photos, object_side=object_side),
            output_signature=((scene_spec[0], crop_spec[0]), (scene_spec[1], crop_spec[1])))
    else:
        trainer = model
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss=pixel_loss, metrics=[pixel_accuracy])
        dataset = tf.data.Dataset.from_generator(
            lambda: scene_batches(train_split.images, train_split.labels, photos, object_side=object_side),
            output_signature=scene_spec)
    dataset = dataset.prefetch(2)

    chunk = 100
    log = {"model": model.name, "steps": steps, "batch_size": BATCH_SIZE, "crop": CROP, "object_side": object_side,
           "objects": OBJECTS, "learning_rate": learning_rate, "fine_tune_backbone": fine_tune,
           "classify_weight": classify_weight, "classify_batch": CLASSIFY_BATCH if classify_weight else 0,
           "backbone_weights": os.path.relpath(backbone_weights),
           "backgrounds": BACKGROUND_CHOICES[backgrounds],
           "history": []}
    finished = finished_run(out, log)
    if finished is not None:  # the same run done before: its weights, then only export and calibrate
        model.load_weights(out / "fcn.weights.h5")
        log = finished
    else:
        bar = Progress(TextColumn("[bold]fcn"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
                       TimeRemainingColumn(), console=Console(stderr=True), disable=quiet)
        task = bar.add_task("fcn", total=steps, status="")
        started = time.perf_counter()
        with bar:
            for first in range(0, steps, chunk):
                n = min(chunk, steps - first)
                history = trainer.fit(dataset, steps_per_epoch=n, epochs=1, verbose=0).history
                last = {key: round(float(values[-1]), 5) for key, values in history.items()}
                entry = {"step": first + n, "loss": last["loss"],
                         "pixel_accuracy": next(v for k, v in last.items() if k.endswith("pixel_accuracy")),
                         "seconds": round(time.perf_counter() - started, 1)}
                if classify_weight:  # the CIFAR-10 images' accuracy, as augmented for training
                    entry["class_accuracy"] = next(v for k, v in last.items() if k.endswith("class_accuracy"))
                log["history"].append(entry)
                bar.update(task, advance=n, status=f"loss {entry['loss']:.3f} pixel acc {entry['pixel_accuracy']:.3f}")
                (out / LOG).write_text(json.dumps(log, indent=1))
        model.save_weights(out / "fcn.weights.h5")

    if export:
        from streamsee.training.export import convert

        rng = np.random.default_rng(SEED + 1)
        calibration = np.stack([compose(rng, photos, train_split.images, train_split.labels, size=(168, 224),
                                        objects=(0, 3), side=(20, 88), jitter=True).image for _ in range(200)])
        (out / FLOAT_NAME).write_bytes(convert(model, (1, None, None, 3), None))
        (out / INT8_NAME).write_bytes(convert(model, (1, None, None, 3), calibration))
        log["exported"] = {name: (out / name).stat().st_size for name in (FLOAT_NAME, INT8_NAME)}
        (out / LOG).write_text(json.dumps(log, indent=1))
        log["calibration"] = calibrate(data, out / INT8_NAME, out)
        (out / LOG).write_text(json.dumps(log, indent=1))
        write_model_card(out, log)
    return log


def finished_run(out: Path, log: dict) -> dict | None:
    """The log of a finished run in `out` with the same settings (and its weights there), or None."""
    path = out / LOG
    if not (path.is_file() and (out / "fcn.weights.h5").is_file()):
        return None
    previous = json.loads(path.read_text())
    same = all(previous.get(key) == json.loads(json.dumps(value)) for key, value in log.items() if key != "history")
    done = previous.get("history") and previous["history"][-1]["step"] == log["steps"]
    return previous if same and done else None


def calibrate(data, model_path: Path, out: Path, scenes: int | None = None, max_empty_claimed: float = 0.04) -> dict:
    """Pick the background probability under which a pixel is an object, for this model used as
    the Segmenter's objectness FCN beside the shipped class FCN and box model: the threshold with the
    best mIoU on 640x480 scenes
    composed from *training* images on photos the FCN was not fitted on
    (scenes.CALIBRATION_BACKGROUNDS, the calibration wallpapers and stereo_motorcycle, used whole as
    a camera sees them), among those that claim at most `max_empty_claimed` of the empty scenes'
    pixels (the issue's bound is 5 %). Writes fcn_calibration.json."""
    scenes = CALIBRATION_SCENES if scenes is None else scenes
    train_split = load_cifar10(data, "train")
    photos = background_photos("calibrate")
    rng = np.random.default_rng(SEED + 2)
    composed = compose_set(rng, photos, train_split.images, train_split.labels, scenes)
    sweep = []
    for threshold in MAX_BACKGROUND_SWEEP:
        with Segmenter(objects=ObjectFinder(model_path, max_background=threshold)) as segmenter:
            report = evaluate_fcn(composed, segmenter)
        sweep.append({"max_background": threshold, "miou": report["miou"],
                      "empty_scene_pixels_claimed": report["empty_scene_pixels_claimed"]})
    allowed = [row for row in sweep if row["empty_scene_pixels_claimed"] <= max_empty_claimed] or sweep[:1]
    best = max(allowed, key=lambda row: row["miou"])
    calibration = {"max_background": best["max_background"], "scenes": scenes,
                   "max_empty_claimed": max_empty_claimed, "sweep": sweep}
    (out / "fcn_calibration.json").write_text(json.dumps(calibration, indent=1))
    return calibration


def write_model_card(out: Path, log: dict) -> None:
    from streamsee.training.export import invocation

    command = invocation()
    last = log["history"][-1]
    lines = [
        f"# Model card: {log['model']}",
        "",
        "The shared CIFAR-10 classifier run fully convolutionally, with score layers at strides 8, 4 and 2",
        "fused through skip connections (2x transposed convolutions initialised bilinear) and a learned",
        "background class. Output: logits for the ten classes then background at stride 2.",
        "",
        f"- Produced by: `{command}`",
        f"- Backbone: `{log['backbone_weights']}` ({'fine-tuned, batch-norm frozen' if log['fine_tune_backbone'] else 'frozen'})",
        *([f"- With the classifier's own loss on batches of {log['classify_batch']} augmented CIFAR-10 training "
           f"images, weighted {log['classify_weight']}, in the same steps"]
          if log.get("classify_weight") else []),
        f"- Training: {log['steps']} steps of {log['batch_size']} scenes of {log['crop']}x{log['crop']} px, "
        f"objects {log['object_side'][0]}-{log['object_side'][1]} px, {log['objects'][0]}-{log['objects'][1]} per scene; "
        f"Adam {log['learning_rate']} with cosine decay; {last['seconds'] / 60:.1f} min on this machine",
        f"- Scenes: CIFAR-10 *training* images pasted onto {log['backgrounds']}",
        "  (flips, tint, contrast, mosaics, made-up gradients);",
        "  never CIFAR-10 test images, never ../shared/media",
        f"- Final training loss {last['loss']:.3f}, pixel accuracy {last['pixel_accuracy']:.3f}",
        "",
        "| model | file | size |",
        "|---|---|---|",
        f"| float32 | `{FLOAT_NAME}` | {log['exported'][FLOAT_NAME] / 1e6:.2f} MB |",
        f"| int8 (full integer, calibrated on 200 training scenes) | `{INT8_NAME}` | {log['exported'][INT8_NAME] / 1e6:.2f} MB |",
        "",
        f"- Claim threshold (calibrated on {log['calibration']['scenes']} scenes of training images over the photos "
        "held out from fitting, scenes.CALIBRATION_BACKGROUNDS, WALLPAPERS['calibrate'] and stereo_motorcycle, "
        "claiming at most "
        f"{log['calibration']['max_empty_claimed']:.0%} of empty scenes; `fcn_calibration.json`): used as the Segmenter's "
        f"objectness FCN, a pixel is an object when its background probability is below {log['calibration']['max_background']} "
        "(or the class FCN's likeliest label is a class); a connected object region holding two or more cores "
        "(background probability below the Segmenter's split_background) is split between them; each object region "
        "is named by the box model "
        "(`streamsee/models/boxes`, on the region's box) and the class FCN together, and dropped where the box model "
        "says background",
        "",
        "Measured on held-out scenes: `streamsee evaluate --scenes 200` (figures in docs/experiments.md).",
        "",
    ]
    (out / "MODEL_CARD.md").write_text("\n".join(lines))
