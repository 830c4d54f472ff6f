"""Train the box path's model: the shared classifier fine-tuned with an eleventh class, background.

Reads top to bottom: constants, build_box_model(), data (proposals on composed scenes), fit, export.
Run it as ``streamsee train boxes --data PATH --out DIR`` (then the score threshold is calibrated).

The classifier alone cannot say "none of the ten": every crop gets some class, so most proposals
on a frame come back as confident false boxes. Here the classifier is copied with one more score,
background (its weights start at zero, the ten class scores as shipped), and the whole net is
fine-tuned (batch-norm statistics frozen) on crops that the proposal methods themselves cut from
scenes composed of CIFAR-10 *training* images on scikit-image's photos and Debian's wallpapers
(scenes.wallpaper_backgrounds): a crop that covers an object (IoU >= 0.5) is that object's class,
a crop that covers none (IoU < 0.3) is background. The 50,000 CIFAR-10 training images go in too,
at their classes, so the ten classes are still learnt from whole, real images, not only from crops
of pasted ones.

With ``--tiny`` (Tiny ImageNet's tar.gz) real photos go in as well, resized from 64 to 32: those of
the classes that map to a CIFAR-10 class at their class, and those of the 176 `none` classes (people's
things, food, rooms, landscapes, other animals) as background, so the model learns both the ten and
"none of the ten" from real images, not only from CIFAR-10 and pasted scenes.

With ``--parts`` (and ``--tiny``) pieces of those photos of the classes go in as background too: a
square of 25-45 % of a photo's side at a random place (IoU with the whole photo at most 0.2, the same
rule as for scene crops), so that an ear or a patch of fur, which proposals on a frame-filling object
cut by the dozen, is not named as confidently as the whole animal. With ``--none-pieces`` a piece of
each `none` photo (30-70 % of its side) goes in as background too: proposals cut rooms, people and
landscapes into pieces, and the whole photos alone do not teach that a corner of a room is no cat.
With ``--none-classes`` each `none` class has a score of its own while training (training/none_classes.py);
with ``--resized-crops`` half the examples are a random part of themselves squeezed back to the input side.

With ``--size S`` the model is trained and exported at S x S instead of CIFAR's 32x32 (the convolutions
are the same, so the classifier's weights start it): crops are cut at S, Tiny ImageNet's photos resized
from 64 to S (half of them through 32 px on the way, as blurred as CIFAR-10's images, which are
upscaled), so that sharpness tells no class; the runtime reads the side from the exported model.
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
from streamsee.core.frames import resize_squares  # noqa: E402
from streamsee.core.labels import NUM_CLASSES  # noqa: E402
from streamsee.recognition.classifier import INPUT_SIZE  # noqa: E402
from streamsee.training import fastnet  # noqa: E402
from streamsee.training import none_classes as none_classes_recipe  # noqa: E402

# ---------------------------------------------------------------- constants
BACKBONE_WEIGHTS = MODELS_DIR / "classifier" / "classifier.weights.h5"
SCENES = 300  # training scenes, 640x480, a quarter of them empty
OBJECT_IOU = 0.5  # a proposal at least this close to an object is that object
BACKGROUND_IOU = 0.3  # a proposal no closer than this to every object is background
JITTERED_PER_OBJECT = 16  # extra positives: each object's box shifted and scaled a little (4: fewer found)
BACKGROUND_SHARE = 0.5  # share of the fit's total weight that background crops carry
REAL_SHARE = 0.4  # with --tiny: the share of each side's weight (objects, background) on Tiny ImageNet's photos
PART_SIDES = (0.25, 0.45)  # with --parts: a piece's side as a share of its photo's (IoU with the photo <= 0.2)
NONE_PIECE_SIDES = (0.3, 0.7)  # with --none-pieces: a piece of a `none` photo, of any size, shows none of the ten too
EPOCHS = 3
BATCH_SIZE = 128
LEARNING_RATE = 0.01  # SGD with Nesterov momentum 0.9, cosine decay to 0
PAD = 2  # random-crop padding (with a horizontal flip: the augmentation)
MIN_SIZE = 16  # the least input side (--size): the net scores a map at stride 8, 2x2 at 16 px
SOFTENED_SHARE = 0.5  # with --size over 32: the share of Tiny ImageNet's photos that pass through 32 px on the way
RESIZED_CROP_SHARE = 0.5  # with --resized-crops: the share of the examples first cut to a resized crop
RESIZED_CROP_AREA = (0.35, 1.0)  # with --resized-crops: the share of an image's area a resized crop keeps
RESIZED_CROP_ASPECT = (0.5, 2.0)  # and its width over its height (a piece of 25-45 % of the side is background: --parts)
SEED = 1  # other scenes than the threshold calibration's (seed 0)
LOG = "box_head_log.json"
FLOAT_NAME = "boxes_float.tflite"
INT8_NAME = "boxes_int8.tflite"
BACKGROUND = NUM_CLASSES  # index of the background output

# the from-scratch recipe (--scratch): training.fastnet's net, airbench94's ingredients (see there)
SCRATCH_EPOCHS = 10  # epochs of SCRATCH_EXAMPLES examples drawn from the whole shuffled set
SCRATCH_EXAMPLES = 100_000
SCRATCH_BATCH_SIZE = 512
FAST_NET = "fastnet_" + "_".join(map(str, fastnet.WIDTHS))  # the fast classifier's net (--fast-backbone)


# ---------------------------------------------------------------- model
def build_box_model(backbone_weights=BACKBONE_WEIGHTS, init=None, fast: bool = False, size: int = INPUT_SIZE) -> keras.Model:
    """The classifier with eleven scores: its weights, a zero background score; batch norm frozen.
    `init`: a box model's own weights (boxes.weights.h5 of an earlier run) instead, a warm restart.
    `fast`: training/fastnet.py's net, `backbone_weights` then a fast classifier's (`train fast`).
    `size`: the input side (the weights do not depend on it)."""
    from streamsee.training.model import build_model

    def build(outputs: int) -> keras.Model:
        shape = (size, size, 3)
        return fastnet.build_fast_model(outputs, input_shape=shape) if fast else build_model(num_classes=outputs, input_shape=shape)

    head = "head" if fast else "score_conv"
    model = build(NUM_CLASSES + 1)
    if init is not None:
        model.load_weights(init)
    else:
        classifier = build(NUM_CLASSES)
        classifier.load_weights(backbone_weights)
        for layer in classifier.layers:
            if layer.weights and layer.name != head:
                model.get_layer(layer.name).set_weights(layer.get_weights())
        model.get_layer(head).set_weights([np.concatenate([weight, np.zeros_like(weight[..., :1])], axis=-1)
                                           for weight in classifier.get_layer(head).get_weights()])
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
    return keras.Model(model.input, model.output, name="box_model")


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


def labelled_crops(train, photos: list[np.ndarray], scenes: int = SCENES, seed: int = SEED, size: int = INPUT_SIZE):
    """Crops (N, size, size, 3) uint8 and labels (N,) (10 = background) cut by both proposal methods from
    scenes of the training split's images on `photos`."""
    from streamsee.datasets.scenes import compose_set
    from streamsee.recognition.boxes import crop_boxes
    from streamsee.recognition.proposals import PROPOSAL_METHODS, box_iou, make_proposals

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
        crops.append(crop_boxes(scene.image, boxes[keep], size))
        labels.append(label[keep])
    return np.concatenate(crops), np.concatenate(labels).astype(np.int64)


def part_crops(rng: np.random.Generator, photos: np.ndarray, sides: tuple[float, float] = PART_SIDES,
               size: int = INPUT_SIZE) -> np.ndarray:
    """One piece of each photo (N, size, size, 3): a square of a random share `sides` of its side at a
    random place, resized to the model's input."""
    import cv2

    photo_side = photos.shape[1]
    pieces = np.empty((len(photos), size, size, 3), np.uint8)
    for i, photo in enumerate(photos):
        side = max(2, int(round(rng.uniform(*sides) * photo_side)))
        y, x = rng.integers(0, photo_side - side + 1, 2)
        pieces[i] = cv2.resize(photo[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_LINEAR)
    return pieces


def softened(photos, size: int, share: float = SOFTENED_SHARE, seed: int = SEED) -> np.ndarray:
    """Tiny ImageNet's photos at size x size; above 32, `share` of them (at random) through 32 px on the way, as
    blurred as CIFAR-10's upscaled images and as the small proposals a frame gives, so that sharpness tells no class
    (CIFAR-10's airplanes, deer and horses have no sharp photos beside them)."""
    images = photos.at_size(size)
    if size <= INPUT_SIZE:
        return images
    images = images.copy() if images is photos.images else images  # at 64 px the photos themselves: left as they are
    chosen = np.random.default_rng(seed).random(len(images)) < share
    images[chosen] = resize_squares(resize_squares(photos.images[chosen], INPUT_SIZE), size)  # only those through 32 px
    return images


def example_weights(labels: np.ndarray, real: np.ndarray, background_share: float = BACKGROUND_SHARE,
                    real_share: float = REAL_SHARE) -> np.ndarray:
    """Weights (mean 1) that give background `background_share` of the total and objects the rest, and
    within each side `real_share` to the real photos (`real`: a mask; none real: each side spread evenly)."""
    for name, value in (("background_share", background_share), ("real_share", real_share)):
        if not 0 < value < 1:
            raise ValueError(f"{name} must lie between 0 and 1, got {value!r}")
    weights = np.zeros(len(labels), np.float32)
    for side, share in ((labels == BACKGROUND, background_share), (labels != BACKGROUND, 1 - background_share)):
        groups = [(side & real, real_share), (side & ~real, 1 - real_share)] if (side & real).any() else [(side, 1.0)]
        for group, part in groups:
            weights[group] = share * part / max(group.sum(), 1)
    return weights * len(labels)


def resized_crop(image: tf.Tensor, seed: int, side: int = INPUT_SIZE) -> tf.Tensor:
    """A random part of the side x side image (RESIZED_CROP_AREA of its area, RESIZED_CROP_ASPECT its shape)
    squeezed back to side x side, as proposals frame objects loosely, tightly and out of shape."""
    begin, size, _ = tf.image.sample_distorted_bounding_box(
        (side, side, 3), tf.zeros((1, 0, 4)), seed=seed, min_object_covered=0.0, aspect_ratio_range=RESIZED_CROP_ASPECT,
        area_range=RESIZED_CROP_AREA, use_image_if_no_bounding_boxes=True)
    return tf.image.resize(tf.slice(image, begin, size), (side, side))


def shift_pixels(side: int) -> int:
    """The random shifts' reach at an input side: PAD at 32 px, in proportion at another."""
    return round(PAD * side / INPUT_SIZE)


def batches(images: np.ndarray, labels: np.ndarray, weights: np.ndarray, seed: int = SEED,
            batch_size: int = BATCH_SIZE, one_hot: bool = False, resized_crops: bool = False) -> tf.data.Dataset:
    """Shuffled, weighted batches, each image flipped at random and shifted by up to PAD pixels (at 32 px;
    in proportion at another side), labels one-hot with `one_hot`, for label smoothing; with `resized_crops`
    RESIZED_CROP_SHARE of them first a resized_crop of themselves."""
    side = images.shape[1]
    pad = shift_pixels(side)

    def augment(image, label, weight):
        image = tf.image.random_flip_left_right(tf.cast(image, tf.float32), seed=seed)
        if resized_crops:
            image = tf.cond(tf.random.uniform((), seed=seed) < RESIZED_CROP_SHARE, lambda: resized_crop(image, seed, side),
                            lambda: image)
        image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
        label = tf.one_hot(label, NUM_CLASSES + 1) if one_hot else label
        return tf.image.random_crop(image, (side, side, 3), seed=seed), label, weight

    return (tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32), weights))
            .shuffle(len(labels), seed=seed).map(augment, num_parallel_calls=2).batch(batch_size).prefetch(2))


def fit_fine_tune(model, images, targets, weights, epochs, callbacks, learning_rate: float = LEARNING_RATE,
                  none_classes: bool = False, resized_crops: bool = False) -> dict:
    """The fine-tuning recipe: SGD from `learning_rate` with cosine decay, whole passes over the data (with
    `none_classes`: training/none_classes.py's loss over the widened scores; `resized_crops`: batches')."""
    steps = epochs * -(-len(targets) // BATCH_SIZE)
    loss, metric = ((none_classes_recipe.open_set_loss, none_classes_recipe.collapsed_accuracy) if none_classes else
                    (keras.losses.SparseCategoricalCrossentropy(from_logits=True), "accuracy"))
    model.compile(optimizer=keras.optimizers.SGD(keras.optimizers.schedules.CosineDecay(learning_rate, steps),
                                                 momentum=0.9, nesterov=True), loss=loss, weighted_metrics=[metric])
    history = model.fit(batches(images, targets, weights, resized_crops=resized_crops), epochs=epochs, verbose=0,
                        callbacks=callbacks).history
    if none_classes:
        history["accuracy"] = history.pop("collapsed_accuracy")
    return history


def fit_scratch(model, images, targets, weights, epochs, callbacks) -> dict:
    """The from-scratch recipe: whitening from the data, label smoothing, a moving average of the
    weights, a triangular learning rate, epochs of SCRATCH_EXAMPLES drawn examples."""
    fastnet.whiten_from(model, images)
    steps_per_epoch = SCRATCH_EXAMPLES // SCRATCH_BATCH_SIZE
    fastnet.compile_recipe(model, steps_per_epoch, epochs, num_classes=NUM_CLASSES + 1)
    data = batches(images, targets, weights, batch_size=SCRATCH_BATCH_SIZE, one_hot=True).repeat()
    history = model.fit(data, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=0, callbacks=callbacks).history
    history["accuracy"] = history.pop("categorical_accuracy")
    return history


# ---------------------------------------------------------------- fit
def train_box_head(data, out, scenes: int = SCENES, epochs: int | None = None, backbone_weights=BACKBONE_WEIGHTS,
                   cifar_images: int | None = None, export: bool = True, quiet: bool = False,
                   tiny=None, tiny_per_class: int | None = None, scratch: bool = False, parts: bool = False, none_pieces: bool = False,
                   none_classes: bool = False, resized_crops: bool = False, init=None, learning_rate: float | None = None,
                   fast_backbone=None,
                   background_share: float = BACKGROUND_SHARE, real_share: float = REAL_SHARE, size: int = INPUT_SIZE) -> dict:
    """Fine-tune the box model on proposal crops and the CIFAR-10 training images (the first
    `cifar_images` of them; all by default), and with `tiny` on Tiny ImageNet's training photos
    (the first `tiny_per_class` of each class; all by default), with `parts` a piece of each of its photos of
    the classes as background too (part_crops), with `none_pieces` a piece of each `none` photo, with `none_classes`
    a score of its own for each `none` class while training (training/none_classes.py), with `resized_crops`
    half the examples a random part of themselves squeezed back to the input side (resized_crop); `init`: start
    from a box model's weights (a warm restart, with `learning_rate` at the start of the cosine decay,
    LEARNING_RATE by default); `fast_backbone`: start from a fast ten-class classifier's weights (`train fast`:
    training/fastnet.py's net) instead of the shipped classifier; `background_share`, `real_share`:
    example_weights'; `size`: the input side (crops, photos and CIFAR-10's images resized to it); with export,
    write boxes_{float,int8}.tflite into OUT, calibrate the score thresholds
    (box_calibration.json) and write the model card. Returns the log."""
    from streamsee.datasets.cifar10 import load_cifar10
    from streamsee.datasets.scenes import background_photos

    if scratch and init is not None:
        raise ValueError("a net trained from scratch does not start from weights: give scratch or init, not both")
    if fast_backbone is not None and (scratch or init is not None):
        raise ValueError("the fast backbone is a start of its own: give fast_backbone, scratch or init, one of them")
    if (parts or none_pieces or none_classes) and tiny is None:
        raise ValueError("the pieces (parts, none_pieces) and none_classes come from Tiny ImageNet's photos: "
                         "give tiny (--tiny ARCHIVE) too")
    if resized_crops and scratch:
        raise ValueError("resized_crops is an augmentation of the fine-tuning recipe: give scratch or resized_crops")
    if none_classes and (scratch or fast_backbone is not None or init is not None):
        raise ValueError("none_classes widens the shipped classifier's head: give neither scratch, fast_backbone nor init")
    if not isinstance(size, int) or size < MIN_SIZE:
        raise ValueError(f"the box model's input side must be a whole number of pixels, at least {MIN_SIZE}, got {size!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = epochs or (SCRATCH_EPOCHS if scratch else EPOCHS)
    keras.utils.set_random_seed(SEED)
    started = time.perf_counter()
    photos = background_photos("fit")  # all but the calibration photos; first, so a missing package fails fast
    train = load_cifar10(data, "train")
    crops, labels = labelled_crops(train, photos, scenes, size=size)
    images = np.concatenate([crops, resize_squares(train.images[:cifar_images], size)])
    targets = np.concatenate([labels, train.labels[:cifar_images]]).astype(np.int64)
    real = np.zeros(len(targets), bool)
    if tiny is not None:
        from streamsee.datasets.tinyimagenet import load_tinyimagenet

        photos_split = load_tinyimagenet(tiny, "train", per_class=tiny_per_class)
        none_wnids = sorted(set(photos_split.wnids[photos_split.labels == BACKGROUND].tolist())) if none_classes else []
        tiny_labels = (none_classes_recipe.fine_labels(photos_split.labels, photos_split.wnids, none_wnids) if none_classes
                       else photos_split.labels)  # NONE (10) is BACKGROUND
        pieces = [part_crops(np.random.default_rng(seed), photos_split.images[mask], sides, size) for wanted, mask, seed, sides in
                  ((parts, photos_split.labels != BACKGROUND, SEED, PART_SIDES),
                   (none_pieces, photos_split.labels == BACKGROUND, SEED + 1, NONE_PIECE_SIDES)) if wanted]
        images = np.concatenate([images, softened(photos_split, size), *pieces])  # pieces of photos are background
        targets = np.concatenate([targets, tiny_labels, np.full(sum(map(len, pieces)), BACKGROUND)])
        real = np.r_[real, np.ones(len(photos_split) + sum(map(len, pieces)), bool)]
    if scratch:
        from streamsee.training.fastnet import build_fast_model

        model, fit = build_fast_model(NUM_CLASSES + 1, input_shape=(size, size, 3)), fit_scratch
    else:
        model = build_box_model(fast_backbone or backbone_weights, init, fast=fast_backbone is not None, size=size)
        if none_classes:
            model = none_classes_recipe.widen_head(model, len(none_wnids))

        def fit(*fit_args):
            return fit_fine_tune(*fit_args, learning_rate=learning_rate or LEARNING_RATE, none_classes=none_classes,
                                 resized_crops=resized_crops)
    with Progress(TextColumn("[bold]boxes"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
                  TimeRemainingColumn(), console=Console(stderr=True), disable=quiet) as bar:
        task = bar.add_task("boxes", total=epochs, status=f"{len(targets)} examples")

        def shown(epoch, logs):  # on the bar, and one line a epoch on stdout for logs of background runs
            accuracy = next(logs[name] for name in ("accuracy", "categorical_accuracy", "collapsed_accuracy") if name in logs)
            bar.update(task, advance=1, status=f"loss {logs['loss']:.3f} accuracy {accuracy:.3f}")
            print(f"epoch {epoch + 1}: loss {logs['loss']:.4f} weighted accuracy {accuracy:.4f} "
                  f"at {time.perf_counter() - started:.0f} s", flush=True)

        history = fit(model, images, targets, example_weights(np.minimum(targets, BACKGROUND), real, background_share,
                                                              real_share), epochs,
                      [keras.callbacks.LambdaCallback(on_epoch_end=shown)])
    model.save_weights(out / "boxes.weights.h5")
    background = labels == BACKGROUND
    log = {"scenes": scenes, "seed": SEED, "crops": int(len(labels)), "background_crops": int(background.sum()),
           "cifar_images": int(len(targets) - len(labels) - real.sum()),  # real: Tiny ImageNet photos and their pieces
           "tiny": tiny and {"archive": os.path.relpath(tiny), "photos": len(photos_split),
                             "background_photos": int((photos_split.labels == BACKGROUND).sum()),
                             "per_class": tiny_per_class, "real_share": real_share,
                             "part_crops": int((photos_split.labels != BACKGROUND).sum()) if parts else 0,
                             "part_sides": PART_SIDES, "none_classes": len(none_wnids),
                             "none_pieces": int((photos_split.labels == BACKGROUND).sum()) if none_pieces else 0,
                             "none_piece_sides": NONE_PIECE_SIDES,
                             "softened_share": SOFTENED_SHARE if size > INPUT_SIZE else 0},
           "input_size": size, "object_iou": OBJECT_IOU, "background_iou": BACKGROUND_IOU,
           "jittered_per_object": JITTERED_PER_OBJECT, "background_share": background_share, "epochs": epochs,
           "resized_crops": resized_crops and {"share": RESIZED_CROP_SHARE, "area": RESIZED_CROP_AREA, "aspect": RESIZED_CROP_ASPECT},
           "recipe": ({"name": "scratch", "net": model.name, "examples_per_epoch": SCRATCH_EXAMPLES,
                       "batch_size": SCRATCH_BATCH_SIZE, "learning_rate": fastnet.LEARNING_RATE,
                       "momentum": fastnet.MOMENTUM, "weight_decay": fastnet.WEIGHT_DECAY,
                       "label_smoothing": fastnet.LABEL_SMOOTHING, "ema_momentum": fastnet.EMA_MOMENTUM} if scratch else
                      {"name": "fine-tune", "net": FAST_NET if fast_backbone else "cifar_resnet9",
                       "batch_size": BATCH_SIZE, "learning_rate": learning_rate or LEARNING_RATE,
                       "backbone_weights": os.path.relpath(fast_backbone or backbone_weights),
                       "init": init and os.path.relpath(init)}),
           "history": [{"epoch": epoch + 1, "loss": round(loss, 5), "weighted_accuracy": round(accuracy, 5)}
                       for epoch, (loss, accuracy) in enumerate(zip(history["loss"], history["accuracy"]))]}
    if export:
        from streamsee.training.export import convert

        calibration = crops[np.random.default_rng(SEED).choice(len(crops), min(1000, len(crops)), replace=False)]
        exported = none_classes_recipe.export_model(model) if none_classes else model  # eleven scores
        (out / FLOAT_NAME).write_bytes(convert(exported, (None, size, size, 3), None))
        (out / INT8_NAME).write_bytes(convert(exported, (None, size, size, 3), calibration))
        log["exported"] = {name: (out / name).stat().st_size for name in (FLOAT_NAME, INT8_NAME)}
    log["seconds"] = round(time.perf_counter() - started, 1)
    if export:
        from streamsee.training.box_calibration import calibrate
        from streamsee.training.box_card import write_model_card

        log["calibration"] = calibrate(data, out, model_path=out / INT8_NAME)
        write_model_card(out, log, shift_pixels(size))
    (out / LOG).write_text(json.dumps(log, indent=1))
    return log
