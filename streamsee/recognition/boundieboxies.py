"""boundieboxies: region proposals from interest points clustered with K-means.

Interest points (Shi-Tomasi corners, Canny edge pixels) on a downscaled grey
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
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import cv2
import fastcluster
import numpy as np
from sklearn import config_context
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import ThreadpoolController

from streamsee.recognition.box_ops import clip, downscale, empty, sides_at_least, suppress_duplicates, unique_rows


@dataclass(frozen=True)
class PointSettings:
    """Step 1, interest points: Shi-Tomasi corners, then Canny edge pixels, of each grey working copy."""

    max_points: int = 12000                # cap on the points found: bounds the cost
    working_sizes: tuple[int, ...] = (320,)  # longest side of each grey frame points come from; boxes pooled
    canny: tuple[float, float] = (40, 120)  # Canny's hysteresis thresholds for the edge pixels


@dataclass(frozen=True)
class ClusterSettings:
    """Step 2, clusters: K-means seeds from the blobs the points form, one box per cluster."""

    seed_points: int = 100        # a blob of n points gets ceil(n / seed_points) K-means seeds
    fit_every: int = 4            # K-means (and the boxes) on every this-th point; seeds from all
    min_blob_points: int = 6      # smaller blobs of points get no seed
    min_cluster_points: int = 2   # clusters with fewer fitted points get no box
    max_clusters: int = 3000
    threads: int = 1              # OpenMP threads for K-means
    seed: int = 0


@dataclass(frozen=True)
class TreeSettings:
    """Step 3, grouping: agglomerative trees over the clusters, every join a box."""

    # (linkage, colour weight): one tree of joins each (0: positions only)
    trees: tuple[tuple[str, float], ...] = (("ward", 0.0), ("single", 0.0), ("ward", 2.0), ("average", 2.0))
    colour_space: int = cv2.COLOR_BGR2LAB  # OpenCV conversion code for the colours the trees compare


@dataclass(frozen=True)
class SnapSettings:
    """Step 4, snapping: each box side onto a straight edge nearby."""

    reach: float = 0.45     # a box side may move this fraction of the box's size to an edge...
    min_edges: float = 0.3  # ...where at least this fraction of the line is edge pixels (0: off)


@dataclass(frozen=True)
class PruneSettings:
    """Step 5, pruning: small boxes and near-duplicates dropped, the largest first."""

    min_side: float = 8.0   # boxes narrower or shorter than this (frame px) are dropped
    merge_iou: float = 0.7  # of boxes overlapping more than this, the largest is kept
    max_boxes: int = 0      # the largest this many are kept (0: all)


class BoundieBoxies:
    """Interest points -> K-means on their positions (k from the data) -> one box per cluster, one
    per join of neighbouring clusters in each tree, each box's sides snapped to the edges nearby ->
    pruned. Each step takes its own settings.

    >>> BoundieBoxies(trees=TreeSettings(trees=(("ward", 0.0),)), pruning=PruneSettings(max_boxes=200))
    """

    def __init__(self, points: PointSettings = PointSettings(), clusters: ClusterSettings = ClusterSettings(),
                 trees: TreeSettings = TreeSettings(), snapping: SnapSettings = SnapSettings(),
                 pruning: PruneSettings = PruneSettings()):
        self.point_settings = points
        self.cluster_settings = clusters
        self.tree_settings = trees
        self.snap_settings = snapping
        self.prune_settings = pruning
        self.threadpools = ThreadpoolController()

    def points(self, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, 2) float32 x, y, n <= max_points: corners, then edge pixels evenly sampled to fill up;
        and the edge map (uint8, 255 on edges) of the blurred grey frame."""
        corners = cv2.goodFeaturesToTrack(grey, max(1, self.point_settings.max_points // 4), 0.01, 2)
        corners = np.zeros((0, 2), np.float32) if corners is None else corners.reshape(-1, 2)
        edges = cv2.Canny(grey, *self.point_settings.canny)
        ys, xs = np.nonzero(edges)
        room = self.point_settings.max_points - len(corners)
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
        per_blob = np.where(sizes >= self.cluster_settings.min_blob_points, -(-sizes // self.cluster_settings.seed_points), 0)
        owner = np.repeat(np.arange(len(sizes)), per_blob)  # the blob of each seed
        nth = np.arange(len(owner)) - np.repeat(np.cumsum(per_blob) - per_blob, per_blob)
        rank = nth * (sizes[owner] - 1) // np.maximum(per_blob[owner] - 1, 1)
        by_blob = np.argsort(blob, kind="stable")
        seeds = points[by_blob[(np.cumsum(sizes) - sizes)[owner] + rank]]
        single = per_blob[owner] == 1
        means = np.stack([np.bincount(blob, points[:, i], len(sizes)) for i in (0, 1)], axis=1)
        seeds[single] = means[owner[single]] / sizes[owner[single], None]
        return seeds[:min(self.cluster_settings.max_clusters, len(points) // self.cluster_settings.min_blob_points)]

    def cluster_boxes(self, points: np.ndarray, labels: np.ndarray,
                      counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The box around each cluster with enough points (`counts`: points per cluster), and which
        clusters those are (mask)."""
        ok = counts >= self.cluster_settings.min_cluster_points
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
        for method, weight in self.tree_settings.trees:
            features = centres if weight == 0 else np.concatenate([centres, weight * colours], axis=1)
            joins = _linkage(features.astype(np.float64), method)[:, :2].astype(np.int64)
            grouped.append(union_boxes(boxes, joins))
        return np.concatenate(grouped)

    def propose(self, frame: np.ndarray, working_size: int) -> np.ndarray:
        """Boxes (frame px, unclipped) from the points of `frame` shrunk to `working_size`."""
        small, back = downscale(frame, working_size)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (3, 3), 0)
        points, edges = self.points(grey)
        seeds = self.seeds(points, grey.shape) if len(points) >= self.cluster_settings.min_blob_points else points[:0]
        if not len(seeds):
            return empty()
        points = points[::self.cluster_settings.fit_every]  # evenly spread (corners, then edges in scan order): the same outlines
        seeds = seeds[:len(points)]
        with (self.threadpools.limit(limits=self.cluster_settings.threads, user_api="openmp"), warnings.catch_warnings(),
              config_context(assume_finite=True, skip_parameter_validation=True)):  # finite pixel points, fixed settings
            warnings.simplefilter("ignore", ConvergenceWarning)  # a seed left without points: fine, it is dropped
            labels = KMeans(len(seeds), init=seeds, n_init=1, max_iter=1, random_state=self.cluster_settings.seed).fit(points).labels_
        counts = np.bincount(labels, minlength=len(seeds))
        boxes, kept = self.cluster_boxes(points, labels, counts)
        at = points.astype(np.int64)
        pixels = small[at[:, 1], at[:, 0]][None]  # one row: faster
        colour = cv2.cvtColor(pixels, self.tree_settings.colour_space)[0].astype(np.float64)
        sums = np.stack([np.bincount(labels, colour[:, c], len(seeds)) for c in range(3)], axis=1)
        colours = sums[kept] / counts[kept, None]
        boxes = unique_rows(np.round(self.grouped(boxes, colours)))  # trees share many joins
        if self.snap_settings.min_edges > 0:
            boxes = snap_to_edges(boxes, edges, self.snap_settings.reach, self.snap_settings.min_edges)
        return boxes * back

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if frame.size == 0:
            return empty()
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame
        boxes = np.concatenate([self.propose(frame, size) for size in self.point_settings.working_sizes])
        boxes = clip(boxes, frame.shape[1], frame.shape[0])
        pruning = self.prune_settings
        boxes = unique_rows(boxes[sides_at_least(boxes, pruning.min_side)])
        kept = suppress_duplicates(boxes, (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), pruning.merge_iou)
        return kept[:pruning.max_boxes] if pruning.max_boxes else kept  # largest first: small ones are mostly fragments


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
