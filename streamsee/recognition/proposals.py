"""Cheap region proposals for the box path: where in a frame might an object be?

Two methods, one contract. Each takes a BGR uint8 frame (H, W, 3) of any size (grey (H, W) is
accepted too) and returns float32 (N, 4) boxes x1, y1, x2, y2 in the frame's pixel coordinates,
clipped to 0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H, ranked: the likeliest objects first (dlib:
boxes found most often; boundieboxies: the largest, since its small boxes are mostly pieces of
objects). A frame with nothing in it gives (0, 4).

- `BoundieBoxies` (boundieboxies.py): interest points on a downscaled grey frame, K-means on their
  positions, agglomerative trees over the clusters, box sides snapped onto straight edges.
- `DlibProposals`: dlib's selective search (`find_candidate_object_locations`) on a downscaled
  RGB copy; boxes found again across its segmentations rank first, near-duplicates are dropped.
"""

from __future__ import annotations

import cv2
import dlib
import numpy as np

from streamsee.recognition.boundieboxies import BoundieBoxies
from streamsee.recognition.box_ops import box_iou, clip, downscale, empty, recall, sides_at_least, suppress_duplicates, unique_rows

__all__ = ["PROPOSAL_METHODS", "BoundieBoxies", "DlibProposals", "box_iou", "make_proposals", "recall",
           "suppress_duplicates", "unique_rows"]

PROPOSAL_METHODS = ("boundieboxies", "dlib")


class DlibProposals:
    """dlib selective search on a downscaled copy, filtered to at most `max_boxes` boxes."""

    def __init__(self, working_size: int = 320, min_size: int = 20, max_boxes: int = 100,
                 kvals: tuple[int, int, int] = (50, 200, 3), max_merging_iterations: int = 50,
                 blur: float = 0.8, quantum: float = 8.0, min_side: float = 8.0, max_area: float = 0.9,
                 dedupe_iou: float = 0.7):
        self.working_size = working_size  # longest side of the copy dlib segments
        self.min_size = min_size          # dlib: segments below this many (working) pixels are ignored
        self.max_boxes = max_boxes
        self.kvals = kvals                # dlib: (first k, last k, number of segmentations)
        self.max_merging_iterations = max_merging_iterations
        self.blur = blur                  # Gaussian sigma (working px) against pixel noise; 0: none
        self.quantum = quantum            # boxes equal after rounding to this (working px) count as one
        self.min_side = min_side          # boxes narrower or shorter than this (frame px) are dropped
        self.max_area = max_area          # boxes covering more than this fraction of the frame are dropped
        self.dedupe_iou = dedupe_iou      # boxes overlapping a better-ranked one more than this are dropped

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if frame.size == 0:
            return empty()
        rgb = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB if frame.ndim == 2 else cv2.COLOR_BGR2RGB)
        small, back = downscale(rgb, self.working_size)
        if self.blur > 0:
            small = cv2.GaussianBlur(small, (0, 0), self.blur)
        rects: list = []
        dlib.find_candidate_object_locations(np.ascontiguousarray(small), rects, kvals=self.kvals, min_size=self.min_size,
                                             max_merging_iterations=self.max_merging_iterations)
        if not rects:
            return empty()
        boxes = np.array([[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects], np.float32)
        # Rank: boxes found again (to within `quantum`) across segmentations and merges first.
        _, first, counts = np.unique(np.round(boxes / self.quantum), axis=0, return_index=True, return_counts=True)
        boxes = clip(boxes[first[np.lexsort((first, -counts))]] * back, frame.shape[1], frame.shape[0])
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        boxes = boxes[sides_at_least(boxes, self.min_side) & (area <= self.max_area * frame.shape[0] * frame.shape[1])]
        return suppress_duplicates(boxes, np.arange(len(boxes), 0, -1), self.dedupe_iou, self.max_boxes)


def make_proposals(name: str, **settings) -> BoundieBoxies | DlibProposals:
    """The proposal method called `name` (one of PROPOSAL_METHODS), built with `settings`."""
    if name == "boundieboxies":
        return BoundieBoxies(**settings)
    if name == "dlib":
        return DlibProposals(**settings)
    raise ValueError(f"unknown proposal method {name!r}; expected one of: {', '.join(PROPOSAL_METHODS)}")
