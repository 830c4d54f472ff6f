"""Cheap region proposals for the box path: where in a frame might an object be?

Two methods, one contract. Each takes a BGR uint8 frame (H, W, 3) of any size (grey (H, W) is
accepted too) and returns float32 (N, 4) boxes x1, y1, x2, y2 in the frame's pixel coordinates,
clipped to 0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H. A frame with nothing in it gives (0, 4).

- `BoundieBoxies`: interest points (Shi-Tomasi corners, Canny edge pixels) on a downscaled grey
  frame, K-means on their (x, y) positions, one box per cluster. k is not a constant: it is the
  number of separate blobs the points form on a grid of 1-px cells (other cell sizes can be added),
  and one pass of MiniBatchKMeans starts from those blob centres. Fine clusters split objects, so
  the clusters are then grouped: agglomerative trees over their centres (scikit-learn; Ward, single
  and complete linkage) join neighbours step by step, and every join adds the box around both. Points are
  capped, so the cost grows about linearly with k; K-means runs on one thread (OpenMP threads
  stall on busy cores).
- `DlibProposals`: dlib's selective search (`find_candidate_object_locations`) on a downscaled
  RGB copy; boxes found again across its segmentations rank first, near-duplicates are dropped.
"""

from __future__ import annotations

import cv2
import dlib
import numpy as np
from sklearn.cluster import AgglomerativeClustering, MiniBatchKMeans
from threadpoolctl import ThreadpoolController

PROPOSAL_METHODS = ("boundieboxies", "dlib")


def _empty() -> np.ndarray:
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
    """Highest score first, drop each box overlapping a kept one above `iou`; keep at most `limit` (0: all).

    Scores must be positive."""
    if len(boxes) == 0:
        return _empty()
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).astype(np.float64)
    keep = cv2.dnn.NMSBoxes(xywh, np.asarray(scores, np.float32), 0.0, iou, top_k=limit)
    return np.asarray(boxes, np.float32)[np.asarray(keep, np.int64).reshape(-1)]


def _clip(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.clip(np.asarray(boxes, np.float32).reshape(-1, 4), 0, np.array([width, height] * 2, np.float32))


def _sides_at_least(boxes: np.ndarray, min_side: float) -> np.ndarray:
    """Mask of the boxes at least `min_side` wide and high (and never empty)."""
    return np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) >= max(min_side, 1e-3)


def _downscale(frame: np.ndarray, longest: int) -> tuple[np.ndarray, float]:
    """`frame` shrunk so its longest side is at most `longest`, and the factor back to frame pixels."""
    scale = min(1.0, longest / max(frame.shape[:2]))
    if scale == 1.0:
        return frame, 1.0
    size = (max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA), 1.0 / scale


class BoundieBoxies:
    """Interest points -> K-means on their positions (k from the data) -> one box per cluster and
    one per join of neighbouring clusters in each tree."""

    def __init__(self, max_points: int = 12000, working_size: int = 320, cells: tuple[int, ...] = (1,),
                 padding: float = 0.0, trim: float = 0.0, min_side: float = 8.0, merge_iou: float = 0.7,
                 min_cluster_points: int = 6, max_clusters: int = 3000, epochs: int = 1,
                 linkages: tuple[str, ...] = ("ward", "single", "complete"), threads: int = 1, seed: int = 0):
        self.max_points = max_points      # cap on the points clustered: bounds the cost
        self.working_size = working_size  # longest side of the grey frame the points come from
        self.cells = cells                # grid cell sizes (working px) at which blobs are counted
        self.padding = padding            # each box grows by this fraction of its size on every side
        self.trim = trim                  # a box spans this quantile to 1 - trim of its points
        self.min_side = min_side          # boxes narrower or shorter than this (frame px) are dropped
        self.merge_iou = merge_iou        # of boxes overlapping more than this, the largest is kept
        self.min_cluster_points = min_cluster_points
        self.max_clusters = max_clusters
        self.epochs = epochs              # MiniBatchKMeans passes over the points
        self.linkages = linkages          # one tree of joins per linkage (scikit-learn's AgglomerativeClustering)
        self.threads = threads            # OpenMP threads for K-means
        self.threadpools = ThreadpoolController()
        self.seed = seed

    def points(self, grey: np.ndarray) -> np.ndarray:
        """(n, 2) float32 x, y, n <= max_points: corners, then edge pixels evenly sampled to fill up."""
        grey = cv2.GaussianBlur(grey, (3, 3), 0)
        corners = cv2.goodFeaturesToTrack(grey, max(1, self.max_points // 4), 0.01, 2)
        corners = np.zeros((0, 2), np.float32) if corners is None else corners.reshape(-1, 2)
        ys, xs = np.nonzero(cv2.Canny(grey, 60, 160))
        room = self.max_points - len(corners)
        pick = np.linspace(0, len(xs) - 1, room).astype(np.int64) if len(xs) > room else slice(None)
        return np.concatenate([corners, np.stack([xs[pick], ys[pick]], axis=1)]).astype(np.float32)

    def blob_centres(self, points: np.ndarray, shape: tuple[int, ...], cell: int) -> np.ndarray:
        """Centres of the blobs (8-connected occupied cells of a `cell`-px grid) holding enough points."""
        cells = (points // cell).astype(np.int64)
        grid = np.zeros((shape[0] // cell + 1, shape[1] // cell + 1), np.uint8)
        grid[cells[:, 1], cells[:, 0]] = 1
        count, labels = cv2.connectedComponents(grid, connectivity=8)
        blob = labels[cells[:, 1], cells[:, 0]] - 1
        sizes = np.bincount(blob, minlength=count - 1)
        sums = np.stack([np.bincount(blob, points[:, i], count - 1) for i in (0, 1)], axis=1)
        order = np.argsort(-sizes, kind="stable")
        order = order[sizes[order] >= self.min_cluster_points]
        k = min(len(order), len(points) // self.min_cluster_points, self.max_clusters)
        return sums[order[:k]] / sizes[order[:k], None]

    def cluster_boxes(self, points: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
        """Trimmed-extent box of each cluster with enough points, padded (working px)."""
        counts = np.bincount(labels, minlength=k)
        starts = np.cumsum(counts) - counts
        ok = counts >= self.min_cluster_points
        lo = starts[ok] + np.floor(self.trim * (counts[ok] - 1)).astype(np.int64)
        hi = starts[ok] + np.ceil((1 - self.trim) * (counts[ok] - 1)).astype(np.int64)
        x = points[np.lexsort((points[:, 0], labels)), 0]
        y = points[np.lexsort((points[:, 1], labels)), 1]
        x1, y1, x2, y2 = x[lo], y[lo], x[hi] + 1, y[hi] + 1
        pad_x, pad_y = self.padding * (x2 - x1), self.padding * (y2 - y1)
        return np.stack([x1 - pad_x, y1 - pad_y, x2 + pad_x, y2 + pad_y], axis=1)

    def grouped(self, boxes: np.ndarray) -> np.ndarray:
        """The boxes, then per linkage the union box of every join in a tree over their centres
        (n - 1 joins a tree): clusters that split one object come back together at some level."""
        if len(boxes) < 3:
            return boxes
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        grouped = [boxes]
        for linkage in self.linkages:
            tree = AgglomerativeClustering(n_clusters=1, linkage=linkage, compute_full_tree=True).fit(centres)
            nodes = np.empty((2 * len(boxes) - 1, 4), np.float32)
            nodes[:len(boxes)] = boxes
            for node, (a, b) in enumerate(tree.children_, start=len(boxes)):
                nodes[node, :2] = np.minimum(nodes[a, :2], nodes[b, :2])
                nodes[node, 2:] = np.maximum(nodes[a, 2:], nodes[b, 2:])
            grouped.append(nodes[len(boxes):])
        return np.concatenate(grouped)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if frame.size == 0:
            return _empty()
        grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        small, back = _downscale(grey, self.working_size)
        points = self.points(small)
        boxes = [_empty()]
        with self.threadpools.limit(limits=self.threads, user_api="openmp"):
            for cell in self.cells if len(points) >= self.min_cluster_points else ():
                centres = self.blob_centres(points, small.shape, cell)
                if len(centres):
                    model = MiniBatchKMeans(len(centres), init=centres, n_init=1, max_iter=self.epochs,
                                            batch_size=4096, random_state=self.seed)
                    clusters = self.cluster_boxes(points, model.fit(points).labels_, len(centres))
                    boxes.append(self.grouped(clusters) * back)
        boxes = _clip(np.concatenate(boxes), frame.shape[1], frame.shape[0])
        boxes = np.unique(boxes[_sides_at_least(boxes, self.min_side)], axis=0)  # trees share many joins
        return suppress_duplicates(boxes, (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), self.merge_iou)


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
            return _empty()
        rgb = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB if frame.ndim == 2 else cv2.COLOR_BGR2RGB)
        small, back = _downscale(rgb, self.working_size)
        if self.blur > 0:
            small = cv2.GaussianBlur(small, (0, 0), self.blur)
        rects: list = []
        dlib.find_candidate_object_locations(np.ascontiguousarray(small), rects, kvals=self.kvals, min_size=self.min_size,
                                             max_merging_iterations=self.max_merging_iterations)
        if not rects:
            return _empty()
        boxes = np.array([[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects], np.float32)
        # Rank: boxes found again (to within `quantum`) across segmentations and merges first.
        _, first, counts = np.unique(np.round(boxes / self.quantum), axis=0, return_index=True, return_counts=True)
        boxes = _clip(boxes[first[np.lexsort((first, -counts))]] * back, frame.shape[1], frame.shape[0])
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        boxes = boxes[_sides_at_least(boxes, self.min_side) & (area <= self.max_area * frame.shape[0] * frame.shape[1])]
        return suppress_duplicates(boxes, np.arange(len(boxes), 0, -1), self.dedupe_iou, self.max_boxes)


def make_proposals(name: str, **settings) -> BoundieBoxies | DlibProposals:
    """The proposal method called `name` (one of PROPOSAL_METHODS), built with `settings`."""
    if name == "boundieboxies":
        return BoundieBoxies(**settings)
    if name == "dlib":
        return DlibProposals(**settings)
    raise ValueError(f"unknown proposal method {name!r}; expected one of: {', '.join(PROPOSAL_METHODS)}")
