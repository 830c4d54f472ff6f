"""Speed on this machine: classifier per crop, each path and each proposal method per frame.

Speed targets live here, never in timed unit tests: `streamsee bench [--json]`.
"""

from __future__ import annotations

import os
import time

import numpy as np

from streamsee.evaluation.scenes import DEFAULT_BACKGROUNDS, make_scenes
from streamsee.recognition.boxes import BoxDetector
from streamsee.recognition.classifier import MODELS_DIR, Classifier
from streamsee.recognition.proposals import PROPOSAL_METHODS, make_proposals, recall
from streamsee.recognition.segmenter import Segmenter


def timed(function, inputs, repeats: int) -> list[float]:
    """Milliseconds per call of function(x) over `repeats` passes of `inputs` (after one warm-up call)."""
    function(inputs[0])
    times = []
    for _ in range(repeats):
        for x in inputs:
            started = time.perf_counter()
            function(x)
            times.append((time.perf_counter() - started) * 1000)
    return times


def summary(times: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(times, 50)), 2), "p95_ms": round(float(np.percentile(times, 95)), 2),
            "mean_ms": round(float(np.mean(times)), 2)}


def bench_classifier(repeats: int = 20) -> dict:
    rng = np.random.default_rng(0)
    report = {}
    for name in ("classifier_int8.tflite", "classifier_float.tflite"):
        for mirror in (True, False):  # as shipped (with the mirror view), and one view per crop
            with Classifier(MODELS_DIR / name, mirror=mirror) as classifier:
                for batch in (1, 64):
                    crops = [rng.integers(0, 256, (batch, 32, 32, 3), dtype=np.uint8) for _ in range(5)]
                    stats = summary(timed(classifier.predict, crops, repeats))
                    key = f"{name}@batch{batch}" + ("" if mirror else " (one view)")
                    report[key] = {**stats, "per_crop_ms": round(stats["p50_ms"] / batch, 3)}
    return report


def bench_paths(data: os.PathLike | str, frames: int = 12, repeats: int = 2, recall_scenes: int = 100,
                backgrounds: os.PathLike | str = DEFAULT_BACKGROUNDS) -> dict:
    """Per-frame times on `frames` composed scenes; each proposal method's object recall (IoU >= 0.5,
    over all objects) on `recall_scenes` more, so that speed is compared at a recall worth the name."""
    scenes = [s for s in make_scenes(data, frames + frames // 3, backgrounds, seed=1) if len(s.class_id)][:frames]
    images = [scene.image for scene in scenes]
    recall_set = make_scenes(data, recall_scenes, backgrounds, seed=2)
    objects = sum(len(s.class_id) for s in recall_set)
    report = {"frame_size": "640x480", "frames": len(images), "recall_scenes": len(recall_set), "recall_objects": objects}
    with Segmenter.at_widths() as segmenter:
        report["fcn"] = summary(timed(segmenter, images, repeats))
    for method in PROPOSAL_METHODS:
        propose = make_proposals(method)
        stats = summary(timed(propose, images, repeats))
        found = sum(recall(propose(s.image), s.xyxy) * len(s.class_id) for s in recall_set)
        stats["object_recall"] = round(found / max(objects, 1), 3)
        report[f"proposals_{method}"] = stats
        with BoxDetector(proposals=method) as detector:
            report[f"boxes_{method}"] = summary(timed(detector, images, repeats))
    report["fcn_over_boxes"] = round(report["fcn"]["p50_ms"] / report["boxes_boundieboxies"]["p50_ms"], 3)
    report["dlib_over_boundieboxies"] = round(report["proposals_dlib"]["p50_ms"]
                                              / report["proposals_boundieboxies"]["p50_ms"], 2)
    # by the mean too: a few busy frames take boundieboxies twice its median, not dlib
    report["dlib_over_boundieboxies_mean"] = round(report["proposals_dlib"]["mean_ms"]
                                                   / report["proposals_boundieboxies"]["mean_ms"], 2)
    return report


def render_bench(report: dict, console) -> None:
    from rich.table import Table

    table = Table(title="classifier (LiteRT, random crops)")
    for column in ("model @ batch", "p50 ms per call", "ms per crop"):
        table.add_column(column, justify="right")
    for key, row in report["classifier"].items():
        table.add_row(key, f"{row['p50_ms']:.2f}", f"{row['per_crop_ms']:.3f}")
    console.print(table)
    paths = report["paths"]
    table = Table(title=f"per {paths['frame_size']} frame ({paths['frames']} composed scenes; object recall of "
                        f"the proposals on {paths['recall_scenes']} more, {paths['recall_objects']} objects)")
    for column in ("stage", "p50 ms", "p95 ms", "object recall"):
        table.add_column(column, justify="right")
    for key in ("fcn", *(f"{kind}_{m}" for m in PROPOSAL_METHODS for kind in ("proposals", "boxes"))):
        row = paths[key]
        table.add_row(key, f"{row['p50_ms']:.1f}", f"{row['p95_ms']:.1f}", str(row.get("object_recall", "")))
    console.print(table)
    console.print(f"FCN / box path time: {paths['fcn_over_boxes']:.2f} (target <= 0.5); "
                  f"dlib / boundieboxies time: {paths['dlib_over_boundieboxies']:.1f}x at p50, "
                  f"{paths['dlib_over_boundieboxies_mean']:.1f}x by the mean (target >= 5x)")
