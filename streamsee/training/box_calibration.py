"""The box path's score thresholds, calibrated per proposal method on composed scenes held out from
fitting (written beside the box model as box_calibration.json, read by recognition.boxes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from streamsee.datasets.cifar10 import load_cifar10
from streamsee.datasets.scenes import background_photos, compose_set
from streamsee.evaluation.scenes import match
from streamsee.recognition.boxes import CALIBRATION, DEFAULT_BOX_MODEL, BoxDetector
from streamsee.recognition.proposals import PROPOSAL_METHODS


def calibrate(data: os.PathLike | str, out: os.PathLike | str, scenes: int = 120, false_boxes_per_frame: float = 1.0,
              seed: int = 0, model_path: os.PathLike | str = DEFAULT_BOX_MODEL) -> dict:
    """Pick, per proposal method, the least score threshold that keeps false boxes at or under the
    target on scenes composed from CIFAR-10 *training* images on the photos held out from fitting
    (scenes.CALIBRATION_BACKGROUNDS, the calibration wallpapers and stereo_motorcycle; never the
    evaluation scenes), and write it to OUT/box_calibration.json. The photos are used whole, as a
    camera sees a room (no mosaics, made-up gradients or zoomed-in crops, which are easier to leave
    alone: thresholds set on those drew twice the false boxes on real photos)."""
    train = load_cifar10(data, "train")
    photos = background_photos("calibrate")  # not fitted on
    rng = np.random.default_rng(seed)
    composed = compose_set(rng, photos, train.images, train.labels, scenes)
    thresholds = np.unique(np.round(np.concatenate([np.arange(0.10, 1.0, 0.01), 1 - np.geomspace(0.01, 1e-4, 9)]), 5))
    report = {"scenes": scenes, "target_false_boxes_per_frame": false_boxes_per_frame, "min_score": {},
              "recall_at_min_score": {}, "sweep": {}}
    for method in PROPOSAL_METHODS:
        with BoxDetector(proposals=method, model_path=model_path, min_score=float(thresholds[0])) as detector:
            results = [detector(scene.image) for scene in composed]
        objects = sum(len(scene.class_id) for scene in composed)
        chosen, chosen_recall, sweep = 1.0, 0.0, []
        for threshold in thresholds:
            kept = [result[result.score >= threshold] for result in results]
            found = sum(match(result, scene) for result, scene in zip(kept, composed))
            false = (sum(len(result) for result in kept) - found) / scenes
            sweep.append((float(threshold), round(found / max(objects, 1), 4), round(false, 3)))
            if false <= false_boxes_per_frame and chosen == 1.0:
                chosen, chosen_recall = float(threshold), found / max(objects, 1)
        report["sweep"][method] = sweep  # (threshold, recall, false boxes per frame)
        report["min_score"][method] = chosen
        report["recall_at_min_score"][method] = round(chosen_recall, 4)
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / CALIBRATION.name).write_text(json.dumps(report, indent=1))
    return report
