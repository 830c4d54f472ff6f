"""Both paths measured on composed scenes nobody tuned on.

Scenes: 640x480, CIFAR-10 *test* images (64-224 px) pasted onto the evaluation negatives
(photos that show none of the classes, ../shared/media/negatives by default; the FCN trained on
other photos), a quarter of the scenes empty. Reported per path: FCN mIoU over the 11 labels and
pixel accuracy, box recall (IoU >= 0.5 and the right class) and false boxes per frame for each
proposal method, proposal recall (class-agnostic), share of empty-scene pixels claimed as an
object, latency p50/p95 per frame.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix

from streamsee.core.labels import BACKGROUND_ID, NUM_CLASSES
from streamsee.datasets.cifar10 import load_cifar10
from streamsee.datasets.scenes import compose_set, folder_backgrounds
from streamsee.recognition.boxes import BoxDetector
from streamsee.recognition.proposals import PROPOSAL_METHODS, box_iou
from streamsee.recognition.segmenter import Segmenter

DEFAULT_BACKGROUNDS = Path("../shared/media/negatives")
LABELS = list(range(NUM_CLASSES)) + [BACKGROUND_ID]


def make_scenes(data: os.PathLike | str, n: int, backgrounds: os.PathLike | str = DEFAULT_BACKGROUNDS,
                seed: int = 0) -> list:
    """N evaluation scenes; every fourth one is empty."""
    test = load_cifar10(data, "test")
    photos = folder_backgrounds(backgrounds)
    rng = np.random.default_rng(seed)
    return compose_set(rng, photos, test.images, test.labels, n)


def match(result, scene, iou: float = 0.5) -> int:
    """True positives: pasted objects found by a box of the right class at IoU >= iou (each box used once)."""
    if not len(result) or not len(scene.class_id):
        return 0
    overlaps = box_iou(result.xyxy, scene.xyxy)
    overlaps[result.class_id[:, None] != scene.class_id[None, :]] = 0
    found = 0
    for box in np.argsort(-result.score):
        target = overlaps[box].argmax()
        if overlaps[box, target] >= iou:
            found += 1
            overlaps[:, target] = 0
    return found


def latency(milliseconds: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(milliseconds, 50)), 1),
            "p95_ms": round(float(np.percentile(milliseconds, 95)), 1)}


def evaluate_fcn(scenes, segmenter: Segmenter) -> dict:
    confusion = np.zeros((len(LABELS), len(LABELS)), np.int64)
    empty_claimed, empty_pixels, times = 0, 0, []
    for scene in scenes:
        started = time.perf_counter()
        result = segmenter(scene.image)
        times.append((time.perf_counter() - started) * 1000)
        confusion += confusion_matrix(scene.label_map.ravel(), result.class_map.ravel(), labels=LABELS)
        if not len(scene.class_id):
            empty_claimed += int((result.class_map != BACKGROUND_ID).sum())
            empty_pixels += result.class_map.size
    true_positive = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - true_positive
    iou = np.where(union > 0, true_positive / np.maximum(union, 1), np.nan)
    return {"miou": round(float(np.nanmean(iou)), 4), "pixel_accuracy": round(float(true_positive.sum() / confusion.sum()), 4),
            "iou_per_label": {str(label): round(float(value), 4) for label, value in zip(LABELS, iou)},
            "empty_scene_pixels_claimed": round(empty_claimed / max(empty_pixels, 1), 4), **latency(times)}


def evaluate_boxes(scenes, detector: BoxDetector) -> dict:
    found = objects = boxes = 0
    proposal_hits, empty_boxes, times = 0, 0, []
    for scene in scenes:
        started = time.perf_counter()
        proposals = detector.propose(scene.image)
        result = detector.detect(scene.image, proposals)
        times.append((time.perf_counter() - started) * 1000)
        hits = match(result, scene)
        found += hits
        objects += len(scene.class_id)
        boxes += len(result)
        if not len(scene.class_id):
            empty_boxes += len(result)
        if len(proposals) and len(scene.class_id):
            proposal_hits += int((box_iou(proposals, scene.xyxy).max(0) >= 0.5).sum())
    return {"recall": round(found / max(objects, 1), 4), "false_boxes_per_frame": round((boxes - found) / len(scenes), 3),
            "boxes_on_empty_scenes_per_frame": round(empty_boxes / max(1, sum(not len(s.class_id) for s in scenes)), 3),
            "proposal_recall": round(proposal_hits / max(objects, 1), 4), **latency(times)}


def evaluate_scenes(data: os.PathLike | str, n: int, backgrounds: os.PathLike | str = DEFAULT_BACKGROUNDS,
                    seed: int = 0, working_width: int | None = None, objectness_width: int | None = None) -> dict:
    scenes = make_scenes(data, n, backgrounds, seed)
    report = {"scenes": n, "empty_scenes": sum(not len(s.class_id) for s in scenes),
              "objects": int(sum(len(s.class_id) for s in scenes)), "backgrounds": str(backgrounds)}
    segmenter_settings = {key: value for key, value in (("working_width", working_width),
                                                        ("objectness_width", objectness_width)) if value is not None}
    with Segmenter.at_widths(**segmenter_settings) as segmenter:
        report["fcn"] = {"working_width": segmenter.working_width, "objectness_width": segmenter.objectness_width,
                         **evaluate_fcn(scenes, segmenter)}
    for method in PROPOSAL_METHODS:
        with BoxDetector(proposals=method) as detector:
            report[f"boxes_{method}"] = evaluate_boxes(scenes, detector)
    return report


def render_scene_report(report: dict, console) -> None:
    from rich.table import Table

    console.print(f"{report['scenes']} scenes ({report['empty_scenes']} empty, {report['objects']} objects) "
                  f"on photos from {report['backgrounds']}")
    fcn = report["fcn"]
    table = Table(title=f"FCN path (working width {fcn['working_width']}, objectness FCN {fcn['objectness_width'] or 'off'})")
    for column in ("mIoU (11 labels)", "pixel accuracy", "empty-scene pixels claimed", "p50 ms", "p95 ms"):
        table.add_column(column, justify="right")
    table.add_row(f"{fcn['miou']:.3f}", f"{fcn['pixel_accuracy']:.3f}", f"{fcn['empty_scene_pixels_claimed']:.2%}",
                  f"{fcn['p50_ms']:.1f}", f"{fcn['p95_ms']:.1f}")
    console.print(table)
    table = Table(title="box path")
    for column in ("proposals", "recall (IoU>=0.5, right class)", "false boxes / frame", "proposal recall",
                   "p50 ms", "p95 ms"):
        table.add_column(column, justify="right")
    for method in PROPOSAL_METHODS:
        row = report[f"boxes_{method}"]
        table.add_row(method, f"{row['recall']:.3f}", f"{row['false_boxes_per_frame']:.2f}",
                      f"{row['proposal_recall']:.3f}", f"{row['p50_ms']:.1f}", f"{row['p95_ms']:.1f}")
    console.print(table)
