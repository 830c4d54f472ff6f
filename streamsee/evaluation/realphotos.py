"""Real photos at CIFAR's scale: Tiny ImageNet's val half (64x64 resized to 32) against CIFAR-10's test split.

Two questions, seconds each, the quick check between training runs:
- *Grip on real photos*: of the 1,050 val images whose class is a CIFAR-10 class, the share each
  model names right (the classifier with its mirror view; the box model's top score over its
  eleven, so an image it calls background is wrong), and the share the box model calls background.
- *Open set*: how well a model's score tells CIFAR-10 test images (in) from val images of the
  `none` classes (out): AUROC and the false-positive rate at 95 % true-positive rate (FPR95).
  The classifier's score is its top probability; the box model's is one minus its background probability.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import accuracy_score, recall_score, roc_auc_score, roc_curve

from streamsee.core.frames import resize_squares
from streamsee.core.labels import CLASSES, NUM_CLASSES
from streamsee.datasets.cifar10 import load_cifar10
from streamsee.datasets.tinyimagenet import NONE, load_tinyimagenet
from streamsee.recognition.boxes import DEFAULT_BOX_MODEL
from streamsee.recognition.classifier import DEFAULT_MODEL, Classifier


@dataclass(frozen=True)
class RealPhotoReport:
    model: str
    outputs: int  # 10: a classifier; 11: the box model (background last)
    right: float  # share of the mapped val images named right
    per_class: dict[str, float]  # the same per CIFAR-10 class present in Tiny ImageNet
    called_background: float | None  # share of the mapped val images called background (box model)
    auroc: float  # CIFAR-10 test (in) against Tiny ImageNet `none` val (out)
    fpr95: float
    n_mapped: int
    n_none: int
    n_cifar: int

    def to_json(self) -> dict:
        return asdict(self)


def fpr_at_tpr(in_scores: np.ndarray, out_scores: np.ndarray, tpr: float = 0.95) -> float:
    """The share of out-of-set images scored at or above the threshold that keeps `tpr` of the in-set ones."""
    truth = np.r_[np.ones(len(in_scores)), np.zeros(len(out_scores))]
    false_rate, true_rate, _ = roc_curve(truth, np.r_[in_scores, out_scores])
    return float(false_rate[np.searchsorted(true_rate, tpr, side="left")])


def evaluate_real_photos(cifar: os.PathLike | str, tiny: os.PathLike | str,
                         models=(DEFAULT_MODEL, DEFAULT_BOX_MODEL)) -> list[RealPhotoReport]:
    """One report per model (a .tflite with 10 or 11 outputs)."""
    val = load_tinyimagenet(tiny, "val")
    mapped = val.labels != NONE
    cifar_test = load_cifar10(cifar, "test").images
    reports = []
    for path in models:
        with Classifier(path) as classifier:  # at CIFAR's 32 px, or at the side a model was exported at (from 64, from 32)
            photos = classifier.predict(val.at_size(classifier.input_size))
            cifar_scores = classifier.predict(resize_squares(cifar_test, classifier.input_size))
        reports.append(_report(str(path), photos, val.labels, mapped, cifar_scores))
    return reports


def _report(model: str, photos: np.ndarray, labels: np.ndarray, mapped: np.ndarray, cifar_scores: np.ndarray) -> RealPhotoReport:
    outputs = photos.shape[1]
    predicted = photos[mapped].argmax(axis=1)
    present = sorted(set(labels[mapped].tolist()))
    per_class = recall_score(labels[mapped], predicted, labels=present, average=None, zero_division=0)
    if outputs > NUM_CLASSES:
        in_scores, out_scores = 1 - cifar_scores[:, NUM_CLASSES], 1 - photos[~mapped, NUM_CLASSES]
    else:
        in_scores, out_scores = cifar_scores.max(axis=1), photos[~mapped].max(axis=1)
    truth = np.r_[np.ones(len(in_scores)), np.zeros(len(out_scores))]
    return RealPhotoReport(
        model=model, outputs=int(outputs),
        right=round(float(accuracy_score(labels[mapped], predicted)), 4),
        per_class={CLASSES[c]: round(float(v), 4) for c, v in zip(present, per_class)},
        called_background=round(float((predicted == NUM_CLASSES).mean()), 4) if outputs > NUM_CLASSES else None,
        auroc=round(float(roc_auc_score(truth, np.r_[in_scores, out_scores])), 4),
        fpr95=round(fpr_at_tpr(in_scores, out_scores), 4),
        n_mapped=int(mapped.sum()), n_none=int((~mapped).sum()), n_cifar=int(len(cifar_scores)))


def render_real_photos(reports: list[dict], console) -> None:
    """The reports (as RealPhotoReport.to_json gives them) as one rich table."""
    from rich.table import Table

    table = Table(title="real photos at 32x32: Tiny ImageNet val (mapped classes; 'none' against CIFAR-10 test)")
    for column in ("model", "right", "called background", "AUROC", "FPR95", "per class"):
        table.add_column(column)
    for report in reports:
        background = "-" if report["called_background"] is None else f"{report['called_background']:.1%}"
        per_class = ", ".join(f"{name} {value:.2f}" for name, value in report["per_class"].items())
        table.add_row(os.path.basename(report["model"]), f"{report['right']:.1%}", background,
                      f"{report['auroc']:.3f}", f"{report['fpr95']:.3f}", per_class)
    console.print(table)
