"""The box path: cheap region proposals, every crop classified in one batch, per-class NMS."""

from __future__ import annotations

import os

import cv2
import numpy as np

from .classifier import DEFAULT_MODEL, INPUT_SIZE, Classifier
from .proposals import make_proposals
from .result import Result


class BoxDetector:
    """Boxes with label and score for BGR uint8 frames of any size.

    >>> with BoxDetector(proposals="boundieboxies") as detect:
    ...     result = detect(frame)
    """

    def __init__(self, proposals: str = "boundieboxies", model_path: os.PathLike | str = DEFAULT_MODEL,
                 min_score: float = 0.9, nms_iou: float = 0.3, threads: int | None = None):
        self.proposal_method = proposals
        self.propose = make_proposals(proposals)
        self.classifier = Classifier(model_path, threads)
        self.min_score = min_score
        self.nms_iou = nms_iou

    def __enter__(self) -> "BoxDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.classifier.close()

    def classify_boxes(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Class probabilities (N, 10) of the frame's crops under `boxes`, one batch."""
        crops = np.empty((len(boxes), INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
        for i, (x1, y1, x2, y2) in enumerate(np.round(boxes).astype(int)):
            crops[i] = cv2.resize(frame[y1:y2, x1:x2], (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
        return self.classifier.predict(crops)

    def __call__(self, frame: np.ndarray) -> Result:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be BGR uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        boxes = self.propose(frame)
        if not len(boxes):
            return Result()
        probabilities = self.classify_boxes(frame, boxes)
        class_id = probabilities.argmax(axis=1)
        score = probabilities.max(axis=1)
        confident = score >= self.min_score
        boxes, class_id, score = boxes[confident], class_id[confident], score[confident]
        if not len(boxes):
            return Result()
        xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).tolist()
        keep = cv2.dnn.NMSBoxesBatched(xywh, score.tolist(), class_id.tolist(), self.min_score, self.nms_iou)
        keep = np.asarray(keep, dtype=int).reshape(-1)
        keep = keep[np.argsort(-score[keep])]
        return Result(boxes[keep], class_id[keep], score[keep])
