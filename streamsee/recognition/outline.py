"""The FCN path's last step: the named regions' labels (at the score maps' stride 2) laid onto the
frame at its own size, their outline drawn finer than the map's cells.

A frame pixel within one map cell of a named region takes that region's label where the objectness
FCN's background probability, upsampled bilinearly, is below `outline_background`; a region that
map does not see (the class FCN's claim alone) keeps its cells.
"""

from __future__ import annotations

import cv2
import numpy as np

from streamsee.core.labels import BACKGROUND_ID

# Regions are found and named at max_background; their outline is looser and finer. Dev scenes
# (objectness width 160): 0.567 to 0.586 (0.5 and 0.7 within 0.001; 0.3 0.576; the lower of both FCNs'
# background probabilities 0.572); selection scenes 0.640 to 0.667.
OUTLINE_BACKGROUND = 0.6
# Where the score maps lie on the frame: each cell's centre a quarter of a cell right of and below the
# centre of the frame pixels it stands for (the strided convolutions' padding; dev: 0.5864 at a quarter,
# 0.5849 at none, 0.5851 at 0.4).
MAP_OFFSET = 0.25
# A region less than this share of whose cells the outline puts below outline_background (one the
# objectness FCN does not see: the class FCN's claim alone) keeps its cells. Real photos (cat_chelsea,
# dogs_collage) are claimed by the class FCN only and lost their regions without it; dev scenes (at 192 px)
# 0.606 without, 0.603 with it (0.3: the same).
FAINT_SHARE = 0.5


class Outliner:
    """Labels at the frame's size. outline_background=None: each map cell's label, nearest-neighbour."""

    def __init__(self, outline_background: float | None = OUTLINE_BACKGROUND):
        if outline_background is not None and not 0 < outline_background <= 1:
            raise ValueError(f"outline_background must be in (0, 1], or None (each map cell's label), "
                             f"got {outline_background!r}")
        self.outline_background = outline_background  # frame pixels near a region: its own where P(background) is below this

    def __call__(self, labels: np.ndarray, outline: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray:
        """The map's labels (stride 2) at the frame's size. Each frame pixel within one map cell of a
        labelled cell takes the nearest one's label where `outline` (a background probability per
        cell of its own map), upsampled bilinearly, is below outline_background; a region less than
        FAINT_SHARE of whose cells are below it keeps its cells instead."""
        height, width = frame_shape[:2]
        labelled = labels != BACKGROUND_ID
        if self.outline_background is None or not labelled.any():
            return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
        distance, nearest = cv2.distanceTransformWithLabels((~labelled).astype(np.uint8), cv2.DIST_L2, 3,
                                                            labelType=cv2.DIST_LABEL_PIXEL)
        label_of = np.zeros(nearest.max() + 1, np.uint8)  # each labelled cell's distance label -> its label
        label_of[nearest[labelled]] = labels[labelled]
        near = np.where(distance <= 1, label_of[nearest], BACKGROUND_ID).astype(np.uint8)
        coarse = outline if outline.shape == labels.shape else cv2.resize(outline, labels.shape[::-1],
                                                                          interpolation=cv2.INTER_LINEAR)
        count, regions = cv2.connectedComponents(labelled.astype(np.uint8), connectivity=4)
        inside = np.bincount(regions[coarse < self.outline_background], minlength=count)
        faint = inside < FAINT_SHARE * np.bincount(regions.ravel(), minlength=count)
        faint[0] = False
        size, cells_to_frame = (width, height), to_frame(labels.shape, (height, width))
        near = cv2.warpAffine(near, cells_to_frame, size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
        outline = cv2.warpAffine(outline.astype(np.float32), to_frame(outline.shape, (height, width)), size,
                                 flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        near[outline >= self.outline_background] = BACKGROUND_ID
        if faint.any():  # faint regions' own cells, over the outline
            kept = cv2.warpAffine(np.where(faint[regions], labels, BACKGROUND_ID).astype(np.uint8), cells_to_frame,
                                  size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
            near = np.where(kept != BACKGROUND_ID, kept, near).astype(np.uint8)
        return near


def to_frame(map_shape: tuple[int, ...], frame_shape: tuple[int, int]) -> np.ndarray:
    """The affine transform (2x3) that lays a score map's cells onto the frame, MAP_OFFSET included."""
    scale_y, scale_x = frame_shape[0] / map_shape[0], frame_shape[1] / map_shape[1]
    return np.float32([[scale_x, 0, (scale_x - 1) / 2 + MAP_OFFSET * scale_x],
                       [0, scale_y, (scale_y - 1) / 2 + MAP_OFFSET * scale_y]])
