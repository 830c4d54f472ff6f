"""Train the CIFAR-10 convnet that both recognition paths share.

Reads top to bottom: constants, build_model(), data, fit, evaluate, export.
Run it as ``streamsee train --data PATH --out DIR [--epochs N]``; it checkpoints every
epoch into DIR and resumes from the checkpoint when run again with the same DIR.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: E402

from streamsee.core.labels import NUM_CLASSES  # noqa: E402
from streamsee.core.resource import Resource  # noqa: E402
from streamsee.datasets.cifar10 import load_cifar10  # noqa: E402
from streamsee.training.export import LOG, export_models  # noqa: E402
from streamsee.training.model import WIDTH, build_model, count_macs  # noqa: E402

# ---------------------------------------------------------------- constants
BATCH_SIZE = 256
EPOCHS = 40
PEAK_LR = 0.2  # SGD, Nesterov momentum, one-cycle: linear warm-up then linear decay to 0
WARMUP_FRACTION = 0.2
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
LABEL_SMOOTHING = 0.1
DISTILL = 0.7  # with --teacher: the teachers' share of each target (the true label's is the rest)
CUTOUT = 8  # side of the square erased from each training image (0 = off)
PAD = 4  # random-crop padding
PRECISION = "mixed_bfloat16"  # AVX-512 BF16: about 30 % faster than float32 here
SEED = 0
CHECKPOINT = "checkpoint.keras"


@keras.saving.register_keras_serializable(package="streamsee")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to the peak over the first `warmup` of the steps, then linear decay to 0."""

    def __init__(self, total_steps: int, peak: float = PEAK_LR, warmup: float = WARMUP_FRACTION):
        self.total_steps, self.peak, self.warmup = total_steps, peak, warmup

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        rise = float(max(1, int(self.total_steps * self.warmup)))
        up = step / rise
        down = (self.total_steps - step) / max(1.0, self.total_steps - rise)
        return self.peak * keras.ops.clip(keras.ops.minimum(up, down), 0.0, 1.0)

    def get_config(self):
        return {"total_steps": self.total_steps, "peak": self.peak, "warmup": self.warmup}


# ---------------------------------------------------------------- data
class TrainingBatches(keras.utils.PyDataset):
    """Shuffled, augmented training batches: random crop with reflect padding, horizontal flip,
    cutout; one-hot labels (for label smoothing).

    Plain numpy, so it feeds every Keras backend alike (TensorFlow here on the CPU, JAX on a
    GPU machine). Each batch is one fancy-indexed gather (crop and flip together), about a
    millisecond. Batch `i` of epoch `e` depends on (seed, e, i) only, so a resumed run sees the
    very batches an uninterrupted one would.

    With a `teacher` (knowledge distillation) each target is DISTILL times the teacher's class
    probabilities for the very augmented image plus the rest on the true label.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int = BATCH_SIZE, seed: int = SEED,
                 first_epoch: int = 0, teacher: Teacher | None = None):
        super().__init__()
        self.teacher = teacher
        self.padded = np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)), mode="reflect")
        self.targets = np.eye(NUM_CLASSES, dtype=np.float32)[labels.astype(np.int64)]
        self.batch_size, self.seed, self.epoch = batch_size, seed, first_epoch
        self.order = self._permutation()

    def _permutation(self) -> np.ndarray:
        return np.random.default_rng((self.seed, self.epoch)).permutation(len(self.targets))

    def __len__(self) -> int:
        return len(self.targets) // self.batch_size

    def __getitem__(self, index: int):
        pick = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        rng = np.random.default_rng((self.seed, self.epoch, index))
        n, grid = len(pick), np.arange(32)
        rows = rng.integers(0, 2 * PAD + 1, (n, 1)) + grid
        cols = rng.integers(0, 2 * PAD + 1, (n, 1)) + grid
        cols = np.where(rng.random((n, 1)) < 0.5, cols[:, ::-1], cols)
        images = self.padded[pick[:, None, None], rows[:, :, None], cols[:, None, :]].astype(np.float32)
        if CUTOUT:
            centre = rng.integers(0, 32, (n, 2))
            hole = ((np.abs(grid - centre[:, :1]) <= CUTOUT // 2)[:, :, None]
                    & (np.abs(grid - centre[:, 1:]) <= CUTOUT // 2)[:, None, :])
            images[hole] = 128.0
        if self.teacher is None:
            return images, self.targets[pick]
        soft = keras.ops.convert_to_numpy(keras.ops.softmax(self.teacher.logits(images))).astype(np.float32)
        return images, DISTILL * soft + (1 - DISTILL) * self.targets[pick]

    def on_epoch_end(self):
        self.epoch += 1
        self.order = self._permutation()


# ---------------------------------------------------------------- fit
class Teacher(Resource):
    """The mean class scores of earlier runs (an ensemble), frozen, for distillation.

    A Keras weights file (`classifier.weights.h5`) runs in Keras. An exported LiteRT model
    (`classifier_int8.tflite` or `_float`) runs in LiteRT, as shipped, with its mirror view (a
    stronger teacher); on a CPU an int8 one costs about half a Keras pass even so.
    """

    def __init__(self, paths: list[Path]):
        from streamsee.recognition.classifier import Ensemble

        weights = [path for path in paths if path.suffix != ".tflite"]
        exported = [path for path in paths if path.suffix == ".tflite"]
        self.keras_members = build_teacher(weights) if weights else None
        self.litert_members = Ensemble(exported) if exported else None
        self.shares = (len(weights) / len(paths), len(exported) / len(paths))  # each kind's weight in the mean

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Mean class scores (N, 10) of float32 images holding whole pixel values 0..255."""
        total = np.zeros((len(images), NUM_CLASSES), np.float32)
        if self.keras_members is not None:
            total += self.shares[0] * keras.ops.convert_to_numpy(self.keras_members.predict_on_batch(images))
        if self.litert_members is not None:
            total += self.shares[1] * self.litert_members.logits(images.astype(np.uint8))
        return total

    def close(self) -> None:
        if self.litert_members is not None:
            self.litert_members.close()


def build_teacher(weights: list[Path]) -> keras.Model:
    """The mean of the class scores of earlier runs' Keras weights, frozen."""
    inputs = keras.Input(shape=(32, 32, 3), name="image")
    members = []
    for index, path in enumerate(weights):
        member = build_model()
        member.load_weights(path)
        member = keras.Model(member.input, member.output, name=f"teacher{index}")
        member.trainable = False
        members.append(member(inputs, training=False))
    mean = members[0] if len(members) == 1 else layers.Average(name="mean")(members)
    return keras.Model(inputs, mean, name="teacher")


def subset(split, limit: int | None, seed: int):
    """A fixed random `limit` images of `split` (all of it when limit is None)."""
    if not limit:
        return split
    pick = np.random.default_rng(seed).permutation(len(split))[:limit]
    return type(split)(split.images[pick], split.labels[pick])


def with_real_photos(images: np.ndarray, labels: np.ndarray, tiny) -> tuple[np.ndarray, np.ndarray]:
    """`images` and `labels` with Tiny ImageNet's training photos of the classes that map to one of the ten (32 px)."""
    from streamsee.datasets.tinyimagenet import load_tinyimagenet

    photos = load_tinyimagenet(tiny, "train")
    named = photos.labels < NUM_CLASSES  # 'none' photos are the box model's background, not a class here
    return (np.concatenate([images, photos.at_size(32)[named]]),
            np.concatenate([labels, photos.labels[named]]).astype(labels.dtype))


def train(data: str | os.PathLike, out: str | os.PathLike, epochs: int = EPOCHS, limit: int | None = None,
          batch_size: int = BATCH_SIZE, export: bool = True, quiet: bool = False,
          init: str | os.PathLike | None = None, peak_lr: float = PEAK_LR, teachers=(), width: int = WIDTH,
          tiny: str | os.PathLike | None = None) -> dict:
    """Train (or resume) into OUT; returns the training log. `limit` trains on N random images only.

    `init` starts from the weights of an earlier run (a `classifier.weights.h5`) instead of
    random ones: a warm restart, one more one-cycle schedule peaking at `peak_lr`.
    `teachers` (weights or exported .tflite models of earlier runs) distil their mean class
    scores into this run. `width` other than WIDTH makes a wider or narrower net: one wider than
    the shipped budget allows (41 M multiply-adds) is for teaching, through its exported .tflite.
    `tiny` (tinyimagenet-64.tar.gz) adds Tiny ImageNet's training photos of the classes that map to
    one of the ten, at 32 px, to the training images.
    """
    teachers = [Path(path) for path in teachers]
    for path in teachers:
        if not path.is_file():
            raise FileNotFoundError(f"no weights or .tflite file at {str(path)!r} to learn from (--teacher)")
    init = None if init is None else Path(init)
    if init is not None and not init.is_file():
        raise FileNotFoundError(f"no weights file at {str(init)!r} to start from (--init)")
    if not (isinstance(width, int) and width >= 1):
        raise ValueError(f"the width must be a whole number of channels, at least 1, not {width!r}")
    if not peak_lr > 0:
        raise ValueError(f"the peak learning rate must be positive, not {peak_lr!r}")
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(PRECISION)
    try:
        return _train(data, Path(out), epochs, limit, batch_size, export, quiet, init, peak_lr, teachers, width, tiny)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def device_name() -> str:
    """What fits the model: the accelerator's name on the JAX backend, else the CPU."""
    if keras.backend.backend() == "jax":
        import jax

        first = jax.devices()[0]
        return "CPU" if first.platform == "cpu" else first.device_kind
    return "CPU"


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _train(data, out: Path, epochs: int, limit: int | None, batch_size: int, export: bool, quiet: bool,
           init: Path | None, peak_lr: float, teachers: list[Path], width: int, tiny=None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(SEED)

    train_split = subset(load_cifar10(data, "train"), limit, SEED)
    test_split = subset(load_cifar10(data, "test"), limit, SEED + 1)
    x_train, y_train = train_split.images, train_split.labels
    if tiny is not None:
        x_train, y_train = with_real_photos(x_train, y_train, tiny)
    batch_size = min(batch_size, len(y_train))
    steps_per_epoch = len(y_train) // batch_size
    test_ds = (test_split.images.astype(np.float32), np.eye(NUM_CLASSES, dtype=np.float32)[test_split.labels])

    log_path = out / LOG
    checkpoint = out / CHECKPOINT
    log = json.loads(log_path.read_text()) if log_path.exists() and checkpoint.exists() else None
    if log is not None:
        recipe = log.get("recipe", {})
        start = recipe.get("init")
        settings = (log.get("epochs"), log.get("limit"), log.get("batch_size"), recipe.get("peak_lr", PEAK_LR),
                    start and start["sha256"], [teacher["sha256"] for teacher in recipe.get("teachers", [])],
                    recipe.get("width", WIDTH), recipe.get("tiny"))
        wanted = (epochs, limit, batch_size, peak_lr, init and file_digest(init), [file_digest(t) for t in teachers],
                  width, tiny and os.path.relpath(tiny))
        if settings != wanted:
            raise ValueError(f"{str(out)!r} holds a run with (epochs, limit, batch size, peak lr, init sha256, "
                             f"teachers' sha256, width, tiny) = "
                             f"{settings}, not {wanted}: resume it with the same settings or train into a new folder")
        model = keras.models.load_model(checkpoint)
        initial_epoch = len(log["history"])
    else:
        model = build_model(width)
        if init is not None:
            model.load_weights(init)
        model.compile(
            optimizer=keras.optimizers.SGD(OneCycle(epochs * steps_per_epoch, peak_lr), momentum=MOMENTUM, nesterov=True,
                                           weight_decay=WEIGHT_DECAY),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=LABEL_SMOOTHING),
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        )
        initial_epoch = 0
        log = {
            "model": model.name, "epochs": epochs, "limit": limit, "batch_size": batch_size,
            "macs": count_macs(model), "params": int(model.count_params()),
            "recipe": {"init": init and {"weights": str(init), "sha256": file_digest(init)},
                       "teachers": [{"weights": str(t), "sha256": file_digest(t)} for t in teachers],
                       "distill": DISTILL if teachers else 0.0,
                       "peak_lr": peak_lr, "warmup": WARMUP_FRACTION, "momentum": MOMENTUM, "nesterov": True,
                       "weight_decay": WEIGHT_DECAY, "label_smoothing": LABEL_SMOOTHING, "cutout": CUTOUT,
                       "pad_crop": PAD, "flip": True, "precision": PRECISION, "seed": SEED, "width": width,
                       "tiny": tiny and os.path.relpath(tiny), "real_photos": int(len(y_train) - len(train_split.labels)),
                       "backend": keras.backend.backend(), "device": device_name()},
            "history": [],
        }

    teacher = Teacher(teachers) if teachers and initial_epoch < epochs else None
    train_ds = TrainingBatches(x_train, y_train, batch_size, first_epoch=initial_epoch, teacher=teacher)
    progress = _RichProgress(epochs, steps_per_epoch, initial_epoch, quiet)
    epoch_log = _EpochLog(log, log_path, checkpoint, test_ds, progress)
    with progress, teacher or contextlib.nullcontext():
        model.fit(train_ds, epochs=epochs, initial_epoch=initial_epoch, verbose=0, callbacks=[progress, epoch_log])

    if export and log.get("exported") is None:
        if keras.backend.backend() != "tensorflow":
            Console(stderr=True).print(f"trained on the {keras.backend.backend()} backend; exporting needs "
                                       "TensorFlow: run the same command again where it is installed to export")
        else:
            log["exported"] = export_models(model, out, x_train, test_split)
            log_path.write_text(json.dumps(log, indent=1))
    return log


class _EpochLog(keras.callbacks.Callback):
    """Test accuracy, seconds, and a checkpoint after every epoch."""

    def __init__(self, log, log_path, checkpoint, test_ds, progress):
        super().__init__()
        self.log, self.log_path, self.checkpoint = log, log_path, checkpoint
        self.test_ds, self.progress = test_ds, progress

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.started
        _, test_accuracy = self.model.evaluate(*self.test_ds, batch_size=500, verbose=0)
        entry = {"epoch": epoch + 1, "loss": round(float(logs["loss"]), 5),
                 "train_accuracy": round(float(logs["accuracy"]), 5),
                 "test_accuracy": round(float(test_accuracy), 5), "seconds": round(seconds, 1)}
        self.log["history"].append(entry)
        self.model.save(self.checkpoint)
        self.log_path.write_text(json.dumps(self.log, indent=1))
        self.progress.epoch_done(entry)


class _RichProgress(keras.callbacks.Callback):
    """A rich progress bar over all steps: loss, last epoch's test accuracy."""

    def __init__(self, epochs, steps, initial_epoch, quiet):
        super().__init__()
        self.steps = steps
        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[status]}"), TimeRemainingColumn(),
                            console=Console(stderr=True), disable=quiet)
        self.task = self.bar.add_task("train", total=epochs * steps, completed=initial_epoch * steps,
                                      status="")
        self.last = ""

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(self.task, advance=1, status=f"loss {float(logs['loss']):.3f} {self.last}")

    def epoch_done(self, entry):
        self.last = f"| epoch {entry['epoch']} test {entry['test_accuracy']:.4f}"
        self.bar.console.log(f"epoch {entry['epoch']}: loss {entry['loss']:.4f} train "
                             f"{entry['train_accuracy']:.4f} test {entry['test_accuracy']:.4f} "
                             f"({entry['seconds']:.0f} s)")
