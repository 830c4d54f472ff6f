"""The one result type every recognition path returns for a frame."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from streamsee.core.labels import BACKGROUND_ID, CLASSES


def _array(value, dtype, shape_tail: tuple, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=dtype)
    if array.ndim != 1 + len(shape_tail) or array.shape[1:] != shape_tail:
        raise ValueError(f"{name} must have shape (N, {', '.join(map(str, shape_tail))})".replace(", )", ")")
                         + f", got {array.shape}")
    return array


@dataclass(frozen=True, eq=False)
class Result:
    """What one path found in one frame (pixel coordinates of the source frame).

    xyxy: float32 (N, 4) boxes x1, y1, x2, y2; class_id: int64 (N,); score: float32 (N,).
    The FCN path also fills, per region (one per class present), `area` (fraction of the frame),
    and for the whole frame `class_map` (uint8 (H, W), 255 = no class) and `probabilities`
    (float32 (h, w, 11): the ten classes then background, at the working resolution).
    """

    xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    class_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    score: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    area: np.ndarray | None = None
    class_map: np.ndarray | None = None
    probabilities: np.ndarray | None = None

    def __post_init__(self) -> None:
        xyxy = _array(self.xyxy, np.float32, (4,), "xyxy")
        n = len(xyxy)
        class_id = _array(self.class_id, np.int64, (), "class_id")
        score = _array(self.score, np.float32, (), "score")
        if len(class_id) != n or len(score) != n:
            raise ValueError(f"xyxy, class_id and score must have one row per box, got {n}, {len(class_id)}, {len(score)}")
        if n and (class_id.min() < 0 or class_id.max() >= len(CLASSES)):
            raise ValueError(f"class_id must be in 0..{len(CLASSES) - 1}, got {class_id.tolist()}")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "class_id", class_id)
        object.__setattr__(self, "score", score)
        if self.area is not None:
            area = _array(self.area, np.float32, (), "area")
            if len(area) != n:
                raise ValueError(f"area must have one value per box, got {len(area)} for {n} boxes")
            object.__setattr__(self, "area", area)
        if self.class_map is not None:
            class_map = np.asarray(self.class_map)
            if class_map.ndim != 2 or class_map.dtype != np.uint8:
                raise ValueError(f"class_map must be uint8 (H, W), got {class_map.dtype} {class_map.shape}")
        if self.probabilities is not None:
            probabilities = np.asarray(self.probabilities, np.float32)
            if probabilities.ndim != 3 or probabilities.shape[2] != len(CLASSES) + 1:
                raise ValueError(f"probabilities must be (h, w, {len(CLASSES) + 1}), got {probabilities.shape}")
            object.__setattr__(self, "probabilities", probabilities)

    def __len__(self) -> int:
        return len(self.xyxy)

    @property
    def labels(self) -> list[str]:
        return [CLASSES[i] for i in self.class_id]

    def __getitem__(self, index: int | slice | np.ndarray) -> Result:
        """The boxes selected by a boolean mask, index array or slice; frame-wide maps are kept."""
        if isinstance(index, (int, np.integer)):
            index = [index]
        return Result(self.xyxy[index], self.class_id[index], self.score[index],
                      None if self.area is None else self.area[index], self.class_map, self.probabilities)

    def boxes_json(self) -> list[dict]:
        return [{"xyxy": [round(float(v), 1) for v in box], "label": CLASSES[c], "class_id": int(c),
                 "score": round(float(s), 4)} for box, c, s in zip(self.xyxy, self.class_id, self.score)]

    def segments_json(self) -> list[dict]:
        if self.area is None:
            return []
        return [{"label": CLASSES[c], "class_id": int(c), "area": round(float(a), 5), "score": round(float(s), 4),
                 "xyxy": [round(float(v), 1) for v in box]}
                for box, c, s, a in zip(self.xyxy, self.class_id, self.score, self.area)]


__all__ = ["Result", "BACKGROUND_ID"]

@dataclass(frozen=True)
class PathResult:
    """What one path said about one frame, and how long it took."""

    mode: str  # "boxes" or "segment"
    result: Result
    latency_ms: float  # time the path took on the frame
    finished: float = 0.0  # time.perf_counter() when its result was ready
