"""Box arithmetic the proposal methods share: overlaps, recall, duplicate suppression, clipping."""

from __future__ import annotations

import cv2
import numpy as np


def empty() -> np.ndarray:
    return np.zeros((0, 4), np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in `a` (N, 4) with every box in `b` (M, 4): (N, M) float32."""
    a = np.asarray(a, np.float32).reshape(-1, 4)[:, None, :]
    b = np.asarray(b, np.float32).reshape(-1, 4)[None, :, :]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0).astype(np.float32)


def recall(proposals: np.ndarray, truth_boxes: np.ndarray, iou: float = 0.5) -> float:
    """Fraction of `truth_boxes` matched by at least one proposal at IoU >= `iou` (1.0 if there are none)."""
    truth_boxes = np.asarray(truth_boxes, np.float32).reshape(-1, 4)
    if len(truth_boxes) == 0:
        return 1.0
    if len(proposals) == 0:
        return 0.0
    return float((box_iou(truth_boxes, proposals).max(axis=1) >= iou).mean())


def suppress_duplicates(boxes: np.ndarray, scores: np.ndarray, iou: float, limit: int = 0) -> np.ndarray:
    """Greedy non-maximum suppression: of the `limit` best-scored boxes (0: all), highest score
    first, drop each box overlapping a kept one above `iou`. Scores must be positive.

    The same boxes as OpenCV's `cv2.dnn.NMSBoxes(xywh, scores, 0, iou, top_k=limit)` (its float32
    overlaps and stable ranking), without comparing every box with every kept one: two boxes
    overlap at most as much as the smaller one's area over the larger one's, so only pairs of
    boxes of about the same area are measured. A frame's thousand boxes: a third to a half of OpenCV's time."""
    if len(boxes) == 0:
        return empty()
    if not 0 < iou < 1:
        raise ValueError(f"iou must be between 0 and 1, got {iou!r}")
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, np.float32), kind="stable")
    order = order[:limit] if limit else order
    ranked = boxes[order].astype(np.float64)
    area = (ranked[:, 2] - ranked[:, 0]) * (ranked[:, 3] - ranked[:, 1])
    by_area = np.argsort(area, kind="stable")
    # each box against the larger ones up to 1 / iou times its area (a hair more: float32 overlaps)
    ends = np.searchsorted(area[by_area], area[by_area] / iou * (1 + 1e-6), side="right")
    counts = ends - np.arange(len(area)) - 1
    smaller = np.repeat(np.arange(len(area)), counts)
    larger = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + smaller + 1
    a, b = by_area[smaller], by_area[larger]
    width = np.minimum(ranked[a, 2], ranked[b, 2]) - np.maximum(ranked[a, 0], ranked[b, 0])
    height = np.minimum(ranked[a, 3], ranked[b, 3]) - np.maximum(ranked[a, 1], ranked[b, 1])
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):  # as OpenCV: two empty boxes overlap fully
        distance = np.where(area[a] + area[b] > np.finfo(np.float64).eps,
                            1.0 - inter / (area[a] + area[b] - inter), 0.0).astype(np.float32)
    close = np.float32(1) - distance > np.float32(iou)
    first, second = np.minimum(a[close], b[close]), np.maximum(a[close], b[close])  # rank order
    pairs = np.lexsort((second, first))
    dropped = np.zeros(len(order), bool)
    for keeper, other in zip(first[pairs].tolist(), second[pairs].tolist()):  # few pairs: the duplicates
        if not dropped[keeper]:
            dropped[other] = True
    return boxes[order[~dropped]]


def clip(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.clip(np.asarray(boxes, np.float32).reshape(-1, 4), 0, np.array([width, height] * 2, np.float32))


def unique_rows(boxes: np.ndarray) -> np.ndarray:
    """The distinct rows of `boxes` (N, 4), sorted as `np.unique(boxes, axis=0)` sorts them, in a
    fraction of its time (one lexsort instead of a sort of row records)."""
    if len(boxes) < 2:
        return boxes
    boxes = boxes[np.lexsort(boxes.T[::-1])]
    return boxes[np.concatenate([[True], (boxes[1:] != boxes[:-1]).any(axis=1)])]


def sides_at_least(boxes: np.ndarray, min_side: float) -> np.ndarray:
    """Mask of the boxes at least `min_side` wide and high (and never empty)."""
    return np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) >= max(min_side, 1e-3)


def downscale(frame: np.ndarray, longest: int) -> tuple[np.ndarray, float]:
    """`frame` shrunk so its longest side is at most `longest`, and the factor back to frame pixels."""
    scale = min(1.0, longest / max(frame.shape[:2]))
    if scale == 1.0:
        return frame, 1.0
    size = (max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA), 1.0 / scale
