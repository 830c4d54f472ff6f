"""Score a classifier on the CIFAR-10 test split: top-1, per-class accuracy, confusion matrix."""

from __future__ import annotations

import os
from dataclasses import dataclass

from sklearn.metrics import accuracy_score, confusion_matrix, recall_score

from streamsee.core.frames import resize_squares
from streamsee.core.labels import CLASSES
from streamsee.datasets.cifar10 import load_cifar10
from streamsee.recognition.classifier import DEFAULT_MODEL, Ensemble


@dataclass(frozen=True)
class ClassifierReport:
    top1: float  # as shipped: each image and its mirror image, scores averaged
    top1_single_view: float  # the image alone
    per_class: dict[str, float]
    confusion: list[list[int]]
    model: str
    n: int

    def to_json(self) -> dict:
        return {"top1": self.top1, "top1_single_view": self.top1_single_view, "per_class": self.per_class, "confusion": self.confusion,
                "model": self.model, "n": self.n}


def evaluate_classifier(data: os.PathLike | str, model: os.PathLike | str | list = DEFAULT_MODEL) -> ClassifierReport:
    """The report for one classifier, or for an ensemble (a list of models: the mean of their class scores);
    a model with a background score is scored 10-way, on the ten class scores alone."""
    models = list(model) if isinstance(model, (list, tuple)) else [model]
    with Ensemble(models, mirror=False) as ensemble:
        split = load_cifar10(data, "test")
        # 10-way: a model with an eleventh score, background (the box model), is scored on the ten alone
        images = resize_squares(split.images, ensemble.input_size)  # a model exported at another side: upscaled to it
        image_alone = ensemble.logits(images)[:, :len(CLASSES)]
        mirrored = ensemble.logits(images[:, :, ::-1])[:, :len(CLASSES)]
    predicted = ((image_alone + mirrored) / 2).argmax(axis=1)  # as shipped: both views' scores averaged
    single_view = image_alone.argmax(axis=1)
    classes = list(range(len(CLASSES)))
    per_class = recall_score(split.labels, predicted, labels=classes, average=None, zero_division=0)
    return ClassifierReport(
        top1=float(accuracy_score(split.labels, predicted)),
        top1_single_view=float(accuracy_score(split.labels, single_view)),
        per_class={name: float(value) for name, value in zip(CLASSES, per_class)},
        confusion=confusion_matrix(split.labels, predicted, labels=classes).tolist(),
        model=" + ".join(str(path) for path in models),
        n=int(len(split)),
    )


def render_report(report: dict, console) -> None:
    """The report (as ClassifierReport.to_json gives it) as rich tables: per-class accuracy, confusion matrix."""
    from rich.table import Table

    summary = Table(title=f"{report['model']}: top-1 {report['top1']:.2%} on {report['n']} test images "
                    f"(with its mirror image; {report['top1_single_view']:.2%} alone)")
    summary.add_column("class")
    summary.add_column("accuracy", justify="right")
    for name, value in report["per_class"].items():
        summary.add_row(name, f"{value:.2%}")
    console.print(summary)

    matrix = Table(title="confusion (rows: true class, columns: predicted)")
    matrix.add_column("")
    for name in CLASSES:
        matrix.add_column(name[:5], justify="right")
    for name, row in zip(CLASSES, report["confusion"]):
        matrix.add_row(name, *(f"[bold]{v}[/bold]" if i == CLASSES.index(name) else str(v) for i, v in enumerate(row)))
    console.print(matrix)
