"""The box path: cheap region proposals, every crop classified in one batch, per-class NMS.

Crops are classified by the box model (models/boxes, made by `streamsee train boxes`): the shared
classifier fine-tuned on proposal crops with an eleventh class, background, so that crops showing
none of the ten classes are rejected. A plain 10-class classifier works too (no background).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from streamsee.core.calibration import read_calibration
from streamsee.core.files import MODELS_DIR
from streamsee.core.frames import check_frame
from streamsee.core.labels import NUM_CLASSES
from streamsee.core.resource import Resource
from streamsee.core.result import Result
from streamsee.recognition.classifier import INPUT_SIZE, Classifier
from streamsee.recognition.proposals import make_proposals

BOX_MODELS_DIR = MODELS_DIR / "boxes"
DEFAULT_BOX_MODEL = BOX_MODELS_DIR / "boxes_int8.tflite"  # made by `streamsee train boxes`
CALIBRATION = BOX_MODELS_DIR / "box_calibration.json"  # made by `streamsee train boxes`
FALLBACK_MIN_SCORE = 0.9
# Boxes every frame gets beside its proposals, as fractions of the frame (x1, y1, x2, y2): the whole
# frame, its centre, and its four overlapping corners, for objects that fill much of the frame (real
# video: a tenth of the frame to all of it), which interest points and selective search cut up.
LARGE_BOXES = np.array([[0, 0, 1, 1], [0.15, 0.15, 0.85, 0.85],
                        [0, 0, 0.65, 0.65], [0.35, 0, 1, 0.65], [0, 0.35, 0.65, 1], [0.35, 0.35, 1, 1]], np.float32)

# Crops classified a frame, the large boxes included: the method's likeliest proposals fill the rest. On the
# real development set (20 frames a clip, smoothed, threshold 0.94) 100 gave positive clips right 0.518,
# negative clips claimed 0.158, positive photos 0.762, negative photos 0.125; 150 gave 0.509 / 0.158 / 0.762 /
# 0.25; 60 0.505 / 0.143 / 0.619 / 0.062. Composed scenes (200, boundieboxies): recall 0.578 at 0.43 false
# boxes a frame, against 0.602 at 0.605 (docs/experiments.md, 2026-12-07).
MAX_PROPOSALS = 100
NMS_IOU = 0.3  # boxes of one class overlapping more than this: the less sure goes


def crop_boxes(frame: np.ndarray, boxes: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """The frame under each box, resized to a model's size x size input: (N, size, size, 3) uint8."""
    crops = np.empty((len(boxes), size, size, 3), np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(np.round(boxes).astype(int)):
        crops[i] = cv2.resize(frame[y1:y2, x1:x2], (size, size), interpolation=cv2.INTER_AREA)
    return crops


def calibrated_min_score(proposals: str, calibration: Path | None = None) -> float:
    """The least class probability a box needs, as calibrated for this proposal method (in CALIBRATION
    unless another file is given)."""
    thresholds = read_calibration(calibration or CALIBRATION, "min_score", dict, "an object of thresholds per proposal method")
    return FALLBACK_MIN_SCORE if thresholds is None else float(thresholds.get(proposals, FALLBACK_MIN_SCORE))


class BoxDetector(Resource):
    """Boxes with label and score for BGR uint8 frames of any size.

    >>> with BoxDetector(proposals="boundieboxies") as detect:
    ...     result = detect(frame)
    """

    def __init__(self, proposals: str = "boundieboxies", model_path: os.PathLike | str = DEFAULT_BOX_MODEL,
                 min_score: float | None = None, nms_iou: float = NMS_IOU, max_proposals: int = MAX_PROPOSALS,
                 threads: int | None = None, large_boxes: np.ndarray = LARGE_BOXES):
        self.proposal_method = proposals
        self.large_boxes = np.asarray(large_boxes, np.float32).reshape(-1, 4)  # fractions of the frame, always classified
        self.propose = make_proposals(proposals)
        self.min_score = calibrated_min_score(proposals) if min_score is None else min_score
        self.classifier = Classifier(model_path, threads)
        self.nms_iou = nms_iou
        self.max_proposals = max_proposals  # crops classified per frame: the large boxes, then the method's likeliest (0: all)

    def close(self) -> None:
        self.classifier.close()

    def classify_boxes(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Probabilities of the frame's crops under `boxes`, one batch: (N, 11), background last
        (or (N, 10) with a plain classifier)."""
        return self.classifier.predict(crop_boxes(frame, boxes, self.classifier.input_size))

    def __call__(self, frame: np.ndarray) -> Result:
        check_frame(frame)
        return self.detect(frame, self.propose(frame))

    def candidates(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """The boxes a frame's crops are cut from: the large boxes, then the first of the proposals `boxes`
        (max_proposals in all; 0: every proposal)."""
        if self.max_proposals:
            boxes = boxes[:max(0, self.max_proposals - len(self.large_boxes))]
        height, width = frame.shape[:2]
        return np.concatenate([self.large_boxes * np.float32([width, height, width, height]), boxes])

    def detect(self, frame: np.ndarray, boxes: np.ndarray) -> Result:
        """Classify the candidates of `frame` with the proposals `boxes`, keep the confident ones, per-class NMS."""
        boxes = self.candidates(frame, boxes)
        if not len(boxes):
            return Result()
        probabilities = self.classify_boxes(frame, boxes)[:, :NUM_CLASSES]  # background only lowers them
        return keep_confident(boxes, probabilities.argmax(axis=1), probabilities.max(axis=1), self.min_score, self.nms_iou)


def keep_confident(boxes: np.ndarray, class_id: np.ndarray, score: np.ndarray, min_score: float,
                   nms_iou: float) -> Result:
    """The boxes scored at least `min_score`, after per-class NMS at `nms_iou`, best first."""
    confident = score >= min_score
    boxes, class_id, score = boxes[confident], class_id[confident], score[confident]
    if not len(boxes):
        return Result()
    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).tolist()
    keep = cv2.dnn.NMSBoxesBatched(xywh, score.tolist(), class_id.tolist(), min_score, nms_iou)
    keep = np.asarray(keep, dtype=int).reshape(-1)
    keep = keep[np.argsort(-score[keep])]
    return Result(boxes[keep], class_id[keep], score[keep])

