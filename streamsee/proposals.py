"""Cheap region proposals for the box path: where in a frame might an object be?

Two methods, one contract. Each takes a BGR uint8 frame (H, W, 3) of any size (grey (H, W) is
accepted too) and returns float32 (N, 4) boxes x1, y1, x2, y2 in the frame's pixel coordinates,
clipped to 0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H, ranked: the likeliest objects first (dlib:
boxes found most often; boundieboxies: the largest, since its small boxes are mostly pieces of
objects). A frame with nothing in it gives (0, 4).

- `BoundieBoxies`: interest points (Shi-Tomasi corners, Canny edge pixels) on a downscaled grey
  frame, K-means on their (x, y) positions, one box per cluster. k is not a constant: it comes
  from the separate blobs the points form on a grid of 1-px cells (one seed a blob, more for big
  blobs), and one Lloyd iteration of KMeans starts from those seeds, on every fourth point (its
  cost grows with points times clusters; the seeds come from all of them). Fine clusters split
  objects, so the clusters are then grouped: agglomerative trees (scipy's linkage matrices,
  computed by fastcluster: Ward and single linkage over their centres, Ward and average linkage
  over their centres and mean colours) join neighbours step by step, and every join adds the box
  around both. Last, each side of each box moves onto
  a straight edge nearby, if there is one. Points are capped, so the cost grows about linearly
  with k; K-means runs on one thread (OpenMP threads stall on busy cores).
- `DlibProposals`: dlib's selective search (`find_candidate_object_locations`) on a downscaled
  RGB copy; boxes found again across its segmentations rank first, near-duplicates are dropped.
"""

from __future__ import annotations

import warnings

import cv2
import dlib
import fastcluster
import numpy as np
from sklearn import config_context
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
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
    """Greedy non-maximum suppression: of the `limit` best-scored boxes (0: all), highest score
    first, drop each box overlapping a kept one above `iou`. Scores must be positive.

    The same boxes as OpenCV's `cv2.dnn.NMSBoxes(xywh, scores, 0, iou, top_k=limit)` (its float32
    overlaps and stable ranking), without comparing every box with every kept one: two boxes
    overlap at most as much as the smaller one's area over the larger one's, so only pairs of
    boxes of about the same area are measured. A frame's thousand boxes: a third to a half of OpenCV's time."""
    if len(boxes) == 0:
        return _empty()
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


def _clip(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.clip(np.asarray(boxes, np.float32).reshape(-1, 4), 0, np.array([width, height] * 2, np.float32))


def unique_rows(boxes: np.ndarray) -> np.ndarray:
    """The distinct rows of `boxes` (N, 4), sorted as `np.unique(boxes, axis=0)` sorts them, in a
    fraction of its time (one lexsort instead of a sort of row records)."""
    if len(boxes) < 2:
        return boxes
    boxes = boxes[np.lexsort(boxes.T[::-1])]
    return boxes[np.concatenate([[True], (boxes[1:] != boxes[:-1]).any(axis=1)])]


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
    """Interest points -> K-means on their positions (k from the data) -> one box per cluster, one
    per join of neighbouring clusters in each tree, each box's sides snapped to the edges nearby."""

    def __init__(self, max_points: int = 12000, working_sizes: tuple[int, ...] = (320,), seed_points: int = 100,
                 canny: tuple[float, float] = (40, 120), fit_every: int = 4,
                 trees: tuple[tuple[str, float], ...] = (("ward", 0.0), ("single", 0.0), ("ward", 2.0),
                                                         ("average", 2.0)),
                 colour_space: int = cv2.COLOR_BGR2LAB, snap_reach: float = 0.45, snap_min_edges: float = 0.3,
                 min_side: float = 8.0, merge_iou: float = 0.7, max_boxes: int = 0, min_blob_points: int = 6,
                 min_cluster_points: int = 2, max_clusters: int = 3000, threads: int = 1, seed: int = 0):
        self.max_points = max_points          # cap on the points found: bounds the cost
        self.working_sizes = working_sizes    # longest side of each grey frame points come from; boxes pooled
        self.seed_points = seed_points        # a blob of n points gets ceil(n / seed_points) K-means seeds
        self.canny = canny                    # Canny's hysteresis thresholds for the edge pixels
        self.fit_every = fit_every            # K-means (and the boxes) on every this-th point; seeds from all
        self.trees = trees                    # (linkage, colour weight): one tree of joins each (0: positions only)
        self.colour_space = colour_space      # OpenCV conversion code for the colours the trees compare
        self.snap_reach = snap_reach          # a box side may move this fraction of the box's size to an edge...
        self.snap_min_edges = snap_min_edges  # ...where at least this fraction of the line is edge pixels (0: off)
        self.min_side = min_side              # boxes narrower or shorter than this (frame px) are dropped
        self.merge_iou = merge_iou            # of boxes overlapping more than this, the largest is kept
        self.max_boxes = max_boxes            # the largest this many are kept (0: all)
        self.min_blob_points = min_blob_points        # smaller blobs of points get no seed
        self.min_cluster_points = min_cluster_points  # clusters with fewer fitted points get no box
        self.max_clusters = max_clusters
        self.threads = threads                # OpenMP threads for K-means
        self.threadpools = ThreadpoolController()
        self.seed = seed

    def points(self, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, 2) float32 x, y, n <= max_points: corners, then edge pixels evenly sampled to fill up;
        and the edge map (uint8, 255 on edges) of the blurred grey frame."""
        corners = cv2.goodFeaturesToTrack(grey, max(1, self.max_points // 4), 0.01, 2)
        corners = np.zeros((0, 2), np.float32) if corners is None else corners.reshape(-1, 2)
        edges = cv2.Canny(grey, *self.canny)
        ys, xs = np.nonzero(edges)
        room = self.max_points - len(corners)
        pick = np.linspace(0, len(xs) - 1, room).astype(np.int64) if len(xs) > room else slice(None)
        return np.concatenate([corners, np.stack([xs[pick], ys[pick]], axis=1)]).astype(np.float32), edges

    def seeds(self, points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """K-means seeds from the blobs the points form (8-connected occupied 1-px cells): a blob of
        n >= min_blob_points points gets its mean as one seed, or ceil(n / seed_points) of its
        points, evenly spaced in scan order, when it is big enough to span an object and its surroundings."""
        cells = points.astype(np.int64)
        grid = np.zeros((shape[0] + 1, shape[1] + 1), np.uint8)
        grid[cells[:, 1], cells[:, 0]] = 1
        count, labels = cv2.connectedComponents(grid, connectivity=8)
        blob = labels[cells[:, 1], cells[:, 0]] - 1
        sizes = np.bincount(blob, minlength=count - 1)
        per_blob = np.where(sizes >= self.min_blob_points, -(-sizes // self.seed_points), 0)
        owner = np.repeat(np.arange(len(sizes)), per_blob)  # the blob of each seed
        nth = np.arange(len(owner)) - np.repeat(np.cumsum(per_blob) - per_blob, per_blob)
        rank = nth * (sizes[owner] - 1) // np.maximum(per_blob[owner] - 1, 1)
        by_blob = np.argsort(blob, kind="stable")
        seeds = points[by_blob[(np.cumsum(sizes) - sizes)[owner] + rank]]
        single = per_blob[owner] == 1
        means = np.stack([np.bincount(blob, points[:, i], len(sizes)) for i in (0, 1)], axis=1)
        seeds[single] = means[owner[single]] / sizes[owner[single], None]
        return seeds[:min(self.max_clusters, len(points) // self.min_blob_points)]

    def cluster_boxes(self, points: np.ndarray, labels: np.ndarray,
                      counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The box around each cluster with enough points (`counts`: points per cluster), and which
        clusters those are (mask)."""
        ok = counts >= self.min_cluster_points
        by_cluster = points[np.argsort(labels, kind="stable")]
        starts = (np.cumsum(counts) - counts)[counts > 0]  # each cluster with points: one run of by_cluster
        low, high = np.minimum.reduceat(by_cluster, starts), np.maximum.reduceat(by_cluster, starts)
        ok_runs = ok[counts > 0]
        return np.concatenate([low[ok_runs], high[ok_runs] + 1], axis=1), ok

    def grouped(self, boxes: np.ndarray, colours: np.ndarray) -> np.ndarray:
        """The boxes, then per tree the union box of every join (n - 1 a tree): clusters that split
        one object come back together at some level. A tree joins clusters by their centres, or
        with a colour weight w by centres and w times their mean colour (colour_space: Lab), so that clusters
        of one colour join first, as parts of one object tend to."""
        if len(boxes) < 3:
            return boxes
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        grouped = [boxes]
        for method, weight in self.trees:
            features = centres if weight == 0 else np.concatenate([centres, weight * colours], axis=1)
            joins = _linkage(features.astype(np.float64), method)[:, :2].astype(np.int64)
            grouped.append(union_boxes(boxes, joins))
        return np.concatenate(grouped)

    def propose(self, frame: np.ndarray, working_size: int) -> np.ndarray:
        """Boxes (frame px, unclipped) from the points of `frame` shrunk to `working_size`."""
        small, back = _downscale(frame, working_size)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (3, 3), 0)
        points, edges = self.points(grey)
        seeds = self.seeds(points, grey.shape) if len(points) >= self.min_blob_points else points[:0]
        if not len(seeds):
            return _empty()
        points = points[::self.fit_every]  # evenly spread (corners, then edges in scan order): the same outlines
        seeds = seeds[:len(points)]
        with (self.threadpools.limit(limits=self.threads, user_api="openmp"), warnings.catch_warnings(),
              config_context(assume_finite=True, skip_parameter_validation=True)):  # finite pixel points, fixed settings
            warnings.simplefilter("ignore", ConvergenceWarning)  # a seed left without points: fine, it is dropped
            labels = KMeans(len(seeds), init=seeds, n_init=1, max_iter=1, random_state=self.seed).fit(points).labels_
        counts = np.bincount(labels, minlength=len(seeds))
        boxes, kept = self.cluster_boxes(points, labels, counts)
        at = points.astype(np.int64)
        colour = cv2.cvtColor(small[at[:, 1], at[:, 0]][None], self.colour_space)[0].astype(np.float64)  # one row: faster
        sums = np.stack([np.bincount(labels, colour[:, c], len(seeds)) for c in range(3)], axis=1)
        colours = sums[kept] / counts[kept, None]
        boxes = unique_rows(np.round(self.grouped(boxes, colours)))  # trees share many joins
        if self.snap_min_edges > 0:
            boxes = snap_to_edges(boxes, edges, self.snap_reach, self.snap_min_edges)
        return boxes * back

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if frame.size == 0:
            return _empty()
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame
        boxes = np.concatenate([self.propose(frame, size) for size in self.working_sizes])
        boxes = _clip(boxes, frame.shape[1], frame.shape[0])
        boxes = unique_rows(boxes[_sides_at_least(boxes, self.min_side)])
        kept = suppress_duplicates(boxes, (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), self.merge_iou)
        return kept[:self.max_boxes] if self.max_boxes else kept  # largest first: small ones are mostly fragments


def _linkage(features: np.ndarray, method: str) -> np.ndarray:
    """scipy's linkage matrix of `features` (n, d), from fastcluster: the methods it runs on the
    vectors themselves (Ward, single, centroid, median) without a distance matrix, the others
    (average) on the condensed distances; about half of scipy's time for a few hundred clusters."""
    if method in ("ward", "single", "centroid", "median"):
        return fastcluster.linkage_vector(features, method)
    return fastcluster.linkage(features, method)


def union_boxes(boxes: np.ndarray, joins: np.ndarray) -> np.ndarray:
    """The box around both parts of each join of a tree over `boxes` (scipy's linkage order: node
    n + i is join i), (len(joins), 4) float32."""
    n = len(boxes)
    x1, y1, x2, y2 = (boxes[:, i].tolist() for i in range(4))
    for a, b in joins.tolist():  # plain lists: a few hundred joins, each needing the ones before
        x1.append(min(x1[a], x1[b]))
        y1.append(min(y1[a], y1[b]))
        x2.append(max(x2[a], x2[b]))
        y2.append(max(y2[a], y2[b]))
    return np.array([x1[n:], y1[n:], x2[n:], y2[n:]], np.float32).reshape(4, -1).T


def snap_to_edges(boxes: np.ndarray, edges: np.ndarray, reach: float, min_edges: float) -> np.ndarray:
    """Each side of each box (edge-map px) moved to the line within `reach` times the box's size
    that holds the most edge pixels along the box, when at least `min_edges` of it are edges.

    A box drawn around points stops at the outermost point found, which need not be the object's
    outline; where a straight outline is near, the side moves onto it."""
    height, width = edges.shape
    on = (edges > 0).astype(np.int32)
    along_rows = np.zeros((height, width + 1), np.int32)  # edge pixels of row y left of x
    np.cumsum(on, axis=1, out=along_rows[:, 1:])
    along_cols = np.zeros((height + 1, width), np.int32)  # edge pixels of column x above y
    np.cumsum(on, axis=0, out=along_cols[1:])
    b = np.round(boxes).astype(np.int32)  # int32 throughout: half the memory traffic of int64
    b[:, 0::2] = np.clip(b[:, 0::2], 0, width)
    b[:, 1::2] = np.clip(b[:, 1::2], 0, height)
    snapped = b.astype(np.float32)
    size = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    bucket = np.ceil(np.log2(np.maximum(size, 8) / 8)).astype(np.int64)  # boxes up to 8, 16, 32 ... px
    for level in np.unique(bucket):  # one search width per size class: small boxes search few lines
        chosen = np.nonzero(bucket == level)[0]
        reach_px = int(np.ceil(reach * 8 * 2 ** level))
        snapped[chosen] = _snap_sides(b[chosen], along_rows, along_cols,
                                      np.arange(-reach_px, reach_px + 1, dtype=np.int32), reach, min_edges)
    fine = (snapped[:, 2] - snapped[:, 0] >= 1) & (snapped[:, 3] - snapped[:, 1] >= 1)
    return np.where(fine[:, None], snapped, boxes).astype(np.float32)


def _snap_sides(b: np.ndarray, along_rows: np.ndarray, along_cols: np.ndarray, offsets: np.ndarray,
                reach: float, min_edges: float) -> np.ndarray:
    height, width = along_rows.shape[0], along_cols.shape[1]
    rows_flat, cols_flat = along_rows.ravel(), along_cols.ravel()
    snapped = b.astype(np.float32)
    rows = np.arange(len(b))
    distance = np.abs(offsets)
    for side in range(4):
        vertical = side % 2 == 0  # x1 and x2 are vertical lines, along the box's height
        span = b[:, 3] - b[:, 1] if vertical else b[:, 2] - b[:, 0]
        limit = width if vertical else height
        where = b[:, side, None] + offsets
        allowed = distance <= np.floor(reach * span).astype(np.int32)[:, None]  # within reach * span...
        allowed &= where >= 0  # ...and inside the frame
        allowed &= where <= limit
        line = np.clip(where - (side >= 2), 0, limit - 1)  # x2 and y2 are exclusive: their edge is one before
        if vertical:  # takes from the flat tables: faster than the same gathers with two indices
            line += (b[:, 1] * width)[:, None]
            count = cols_flat.take(line + ((b[:, 3] - b[:, 1]) * width)[:, None]) - cols_flat.take(line)
        else:
            line *= width + 1
            count = rows_flat.take(line + b[:, 2, None]) - rows_flat.take(line + b[:, 0, None])
        count[~allowed] = -1
        best = count.argmax(axis=1)  # one span a row: the most edges is the best fraction
        most = count[rows, best]  # offset 0 is always allowed, so this is never -1
        move = most / np.maximum(span, 1) >= min_edges
        snapped[move, side] = where[rows, best][move]
    return snapped


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
