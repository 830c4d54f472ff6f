"""Several sources in one picture: each source's newest annotated frame fitted into a tile of a grid,
titled with the source's name (the window of a run with several sources)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from streamsee.render.drawing import put_tag, scale_for, scaled


class GridAnnotator:
    """`annotate(frames) -> image`: the frames (None: nothing yet from that source) in a grid of
    `columns` (default: as square as it gets), each fitted into a `tile` (width, height) with its
    aspect kept, on a dark background, titled with `titles`."""

    def __init__(self, titles: list[str], tile: tuple[int, int] = (640, 360), columns: int | None = None,
                 background: int = 24, font_scale: float = 0.6):
        if not titles:
            raise ValueError("a grid needs at least one source")
        self.titles = list(titles)
        self.tile = tile
        self.columns = columns or math.ceil(math.sqrt(len(titles)))
        self.rows = math.ceil(len(titles) / self.columns)
        self.background = background
        self.font_scale = font_scale

    def annotate(self, frames: list[np.ndarray | None]) -> np.ndarray:
        if len(frames) != len(self.titles):
            raise ValueError(f"the grid has {len(self.titles)} sources, got {len(frames)} frames")
        width, height = self.tile
        out = np.full((self.rows * height, self.columns * width, 3), self.background, np.uint8)
        for place, (frame, title) in enumerate(zip(frames, self.titles)):
            top, left = (place // self.columns) * height, (place % self.columns) * width
            if frame is not None:
                fit = min(width / frame.shape[1], height / frame.shape[0])
                size = (max(1, round(frame.shape[1] * fit)), max(1, round(frame.shape[0] * fit)))
                shrunk = cv2.resize(frame, size, interpolation=cv2.INTER_AREA if fit < 1 else cv2.INTER_LINEAR)
                y, x = top + (height - size[1]) // 2, left + (width - size[0]) // 2
                out[y:y + size[1], x:x + size[0]] = shrunk
            scale = scale_for(out[top:top + height, left:left + width])
            margin = scaled(4, scale)
            put_tag(out, title, (left + margin, top + margin), (90, 40, 20), self.font_scale * scale,
                    scaled(1, scale), margin)
        return out


__all__ = ["GridAnnotator"]
