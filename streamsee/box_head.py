"""Train the box path's head: the shared classifier with an eleventh class, background.

Reads top to bottom: constants, build_box_model(), data (proposals on composed scenes), fit, export.
Run it as ``streamsee train boxes --data PATH --out DIR`` (then the score threshold is calibrated).

The classifier alone cannot say "none of the ten": every crop gets some class, so most proposals
on a frame come back as confident false boxes. Here the backbone stays exactly as shipped and only
the head is new: one more score, background, from the features of the last two stages (strides 4
and 8) pooled over the crop by mean and by max, through a 1x1 convolution (a linear classifier on
the pooled features: object or not). The ten class scores stay the classifier's own, so a box's
score is P(object) x P(class | object), and what the classifier knows of real photos is kept.
The background score is set so that softmax over the eleven gives exactly that: background logit
= decision + logsumexp(class logits). It is fitted with
scikit-learn's logistic regression on crops that the proposal methods themselves cut from scenes
composed of CIFAR-10 *training* images on scikit-image's photos and Debian's wallpapers
(scenes.wallpaper_backgrounds): a crop that covers an object
(IoU >= 0.5) is that object's class, a crop that covers none (IoU < 0.3) is background.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from .labels import NUM_CLASSES  # noqa: E402

# ---------------------------------------------------------------- constants
BACKBONE_WEIGHTS = Path(__file__).parent / "models" / "classifier" / "classifier.weights.h5"
SCENES = 300  # training scenes, 640x480, a quarter of them empty
OBJECT_IOU = 0.5  # a proposal at least this close to an object is that object
BACKGROUND_IOU = 0.3  # a proposal no closer than this to every object is background
JITTERED_PER_OBJECT = 4  # extra positives: each object's box shifted and scaled a little
BACKGROUND_WEIGHT = 0.7  # share of the fit's total weight that background crops carry
REGULARISATION = 1.0  # scikit-learn's C
SEED = 1  # other scenes than the threshold calibration's (seed 0)
LOG = "box_head_log.json"
FLOAT_NAME = "boxes_float.tflite"
INT8_NAME = "boxes_int8.tflite"
BACKGROUND = NUM_CLASSES  # index of the background output


# ---------------------------------------------------------------- model
@keras.saving.register_keras_serializable(package="streamsee")
class BackgroundLogit(layers.Layer):
    """decision + logsumexp(class logits): softmax over [class logits, this] gives background
    probability sigmoid(decision) and leaves the classes' odds among themselves unchanged."""

    def call(self, class_logits, decision):
        return decision + keras.ops.logsumexp(class_logits, axis=-1, keepdims=True)


def build_box_model(backbone_weights=BACKBONE_WEIGHTS) -> keras.Model:
    """Backbone and class scores as shipped; background from stages 2 and 3 pooled by mean and max
    (the 1x1 convolution "object_or_not", set by the fit)."""
    from .train import build_model

    backbone = build_model()
    backbone.load_weights(backbone_weights)
    pooled = []
    for stage in ("stage3", "stage2"):
        features = backbone.get_layer(stage).output
        pooled += [layers.GlobalAveragePooling2D(name=f"{stage}_mean")(features),
                   layers.GlobalMaxPooling2D(name=f"{stage}_max")(features)]
    pooled = layers.Concatenate(name="pooled")(pooled)
    decision = layers.Conv2D(1, 1, name="object_or_not")(layers.Reshape((1, 1, -1))(pooled))
    decision = layers.Flatten(name="background_decision")(decision)
    class_logits = backbone.get_layer("logits").output
    logits = layers.Concatenate(name="box_logits")([class_logits, BackgroundLogit(name="background")(class_logits,
                                                                                                        decision)])
    return keras.Model(backbone.input, logits, name="box_head")


def pooled_features(model: keras.Model, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the head's 1x1 convolution sees (the pooled features of each crop), and the
    classifier's ten class scores, from one pass over the crops."""
    both = keras.Model(model.input, [model.get_layer("pooled").output, model.get_layer("logits").output])
    features, class_logits = both.predict(crops.astype(np.float32), batch_size=512, verbose=0)
    return features, class_logits


# ---------------------------------------------------------------- data
def jitter_boxes(rng: np.random.Generator, xyxy: np.ndarray, frame_size: tuple[int, int], n: int) -> np.ndarray:
    """N copies of each box, shifted and scaled by up to 10 % of its side, clipped to the frame."""
    height, width = frame_size
    boxes = np.repeat(xyxy, n, axis=0).astype(np.float32)
    sides = np.repeat(xyxy[:, 2:] - xyxy[:, :2], n, axis=0)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2 + rng.uniform(-0.1, 0.1, sides.shape) * sides
    half = sides * rng.uniform(0.9, 1.1, sides.shape) / 2
    jittered = np.concatenate([centre - half, centre + half], axis=1)
    return np.clip(jittered, 0, [width, height, width, height]).astype(np.float32)


def labelled_crops(data, scenes: int = SCENES, seed: int = SEED):
    """Crops (N, 32, 32, 3) uint8 and labels (N,) (10 = background) cut by both proposal methods."""
    from .boxes import crop_boxes
    from .data import load_cifar10
    from .proposals import PROPOSAL_METHODS, box_iou, make_proposals
    from .scenes import compose_set, skimage_backgrounds, wallpaper_backgrounds

    photos = skimage_backgrounds() + wallpaper_backgrounds()  # all but the calibration photos; first: fails fast
    train = load_cifar10(data, "train")
    rng = np.random.default_rng(seed)
    composed = compose_set(rng, photos, train.images, train.labels, scenes, jitter=True)
    proposers = [make_proposals(method) for method in PROPOSAL_METHODS]
    crops, labels = [], []
    for scene in composed:
        boxes = [propose(scene.image) for propose in proposers]
        if len(scene.class_id):
            boxes.append(jitter_boxes(rng, scene.xyxy, scene.image.shape[:2], JITTERED_PER_OBJECT))
        boxes = np.concatenate(boxes)  # every method returns float32 (N, 4), (0, 4) when it finds nothing
        if len(scene.class_id):
            overlaps = box_iou(boxes, scene.xyxy)
            best, nearest = overlaps.max(axis=1), overlaps.argmax(axis=1)
            label = np.where(best >= OBJECT_IOU, scene.class_id[nearest], BACKGROUND)
            keep = (best >= OBJECT_IOU) | (best < BACKGROUND_IOU)
        else:
            label, keep = np.full(len(boxes), BACKGROUND), np.ones(len(boxes), bool)
        crops.append(crop_boxes(scene.image, boxes[keep]))
        labels.append(label[keep])
    return np.concatenate(crops), np.concatenate(labels).astype(np.int64)


# ---------------------------------------------------------------- fit
def train_box_head(data, out, scenes: int = SCENES, backbone_weights=BACKBONE_WEIGHTS, export: bool = True) -> dict:
    """Fit the head on proposal crops; with export, write boxes_{float,int8}.tflite into OUT,
    calibrate the score thresholds (box_calibration.json) and write the model card. Returns the log."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    crops, labels = labelled_crops(data, scenes)
    model = build_box_model(backbone_weights)
    features, class_logits = pooled_features(model, crops)
    background = labels == BACKGROUND
    weights = np.where(background, BACKGROUND_WEIGHT / max(background.sum(), 1),
                       (1 - BACKGROUND_WEIGHT) / max((~background).sum(), 1)) * len(labels)
    head = LogisticRegression(C=REGULARISATION, max_iter=2000)
    head.fit(features, background, sample_weight=weights)  # decision > 0: background
    model.get_layer("object_or_not").set_weights([head.coef_[0].astype(np.float32).reshape(1, 1, -1, 1),
                                                   head.intercept_.astype(np.float32).reshape(1)])
    predicted = np.where(head.predict(features), BACKGROUND, class_logits.argmax(axis=1))
    log = {"scenes": scenes, "seed": SEED, "crops": int(len(labels)), "background_crops": int(background.sum()),
           "object_iou": OBJECT_IOU, "background_iou": BACKGROUND_IOU, "jittered_per_object": JITTERED_PER_OBJECT,
           "background_weight": BACKGROUND_WEIGHT, "regularisation": REGULARISATION,
           "backbone_weights": os.path.relpath(backbone_weights),
           "train_accuracy": round(float((predicted == labels).mean()), 4),
           "train_background_recall": round(float((predicted[background] == BACKGROUND).mean()), 4),
           "train_object_accuracy": round(float((predicted[~background] == labels[~background]).mean()), 4)}
    if export:
        from .boxes import calibrate
        from .export import convert

        calibration = crops[np.random.default_rng(SEED).choice(len(crops), min(1000, len(crops)), replace=False)]
        (out / FLOAT_NAME).write_bytes(convert(model, (None, 32, 32, 3), None))
        (out / INT8_NAME).write_bytes(convert(model, (None, 32, 32, 3), calibration))
        log["exported"] = {name: (out / name).stat().st_size for name in (FLOAT_NAME, INT8_NAME)}
    log["seconds"] = round(time.perf_counter() - started, 1)
    if export:
        log["calibration"] = calibrate(data, out, model_path=out / INT8_NAME)
        write_model_card(out, log)
    (out / LOG).write_text(json.dumps(log, indent=1))
    return log


def write_model_card(out: Path, log: dict) -> None:
    """MODEL_CARD.md beside the box model: command, data, fit, threshold per proposal method."""
    from .export import invocation

    calibration = log["calibration"]
    lines = [
        "# Model card: box_head",
        "",
        "The box path's crop classifier: the shared CIFAR-10 classifier, unchanged (its ten class scores), with",
        "an eleventh score, background: a 1x1 convolution on the features of stages 2 and 3 pooled by mean and",
        "by max, so that a box's score is P(object) x P(class | object).",
        "",
        f"- Produced by: `{invocation()}`",
        f"- Backbone: `{log['backbone_weights']}` (frozen)",
        f"- Data: {log['crops']} crops ({log['background_crops']} background) cut by both proposal methods "
        f"(plus {log['jittered_per_object']} jittered copies of each object's box) from {log['scenes']} 640x480 "
        "scenes of CIFAR-10 *training* images on scikit-image's photos and Debian's wallpapers (all but the calibration "
        "ones: scenes.CALIBRATION_BACKGROUNDS, WALLPAPERS['calibrate']); a crop at IoU >= "
        f"{log['object_iou']} with an object is its class, one under {log['background_iou']} with all is background",
        f"- Fit: scikit-learn logistic regression, object or background, on the pooled features (C {log['regularisation']}), background "
        f"crops weighted to {log['background_weight']:.0%} of the total; training accuracy {log['train_accuracy']:.2%} "
        f"(background recall {log['train_background_recall']:.2%}, objects {log['train_object_accuracy']:.2%}); "
        f"{log['seconds'] / 60:.1f} min on this machine",
        f"- Models: `{FLOAT_NAME}` ({log['exported'][FLOAT_NAME] / 1e6:.2f} MB), `{INT8_NAME}` (full integer, "
        f"{log['exported'][INT8_NAME] / 1e6:.2f} MB, calibrated on 1000 of the crops)",
        "- Score threshold per proposal method (`box_calibration.json`): the least that keeps false boxes at or under "
        f"{calibration['target_false_boxes_per_frame']} per frame on {calibration['scenes']} scenes of training images "
        "over the photos held out from fitting (scenes.CALIBRATION_BACKGROUNDS, WALLPAPERS['calibrate'] and "
        "stereo_motorcycle): "
        + ", ".join(f"{method} {score} (recall there {calibration['recall_at_min_score'][method]})"
                    for method, score in calibration["min_score"].items()),
        "",
        "Measured on held-out scenes: `streamsee evaluate --scenes 200` (figures in the README).",
        "",
    ]
    (out / "MODEL_CARD.md").write_text("\n".join(lines))
