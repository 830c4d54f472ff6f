"""One frame through the chosen mode: the box path, the FCN path, or both to compare."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .boxes import BoxDetector
from .drawing import BoxAnnotator, HeatmapAnnotator, side_by_side
from .fcn import Segmenter
from .resource import Resource
from .result import Result

MODES = ("boxes", "segment", "compare")


@dataclass(frozen=True)
class PathResult:
    """What one path said about one frame, and how long it took."""

    mode: str  # "boxes" or "segment"
    result: Result
    latency_ms: float


class Analyser(Resource):
    """Runs `mode` on frames and draws its results.

    >>> with Analyser("compare") as analyse:
    ...     outputs = analyse(frame)             # one PathResult per path
    ...     annotated = analyse.annotate(frame, outputs)
    """

    def __init__(self, mode: str = "segment", proposals: str = "boundieboxies", working_width: int = 224,
                 min_score: float | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.paths: dict[str, BoxDetector | Segmenter] = {}
        if mode in ("boxes", "compare"):
            self.paths["boxes"] = BoxDetector(proposals=proposals, min_score=min_score)
        if mode in ("segment", "compare"):
            self.paths["segment"] = Segmenter(working_width=working_width)
        self.box_annotator = BoxAnnotator()
        self.heatmap_annotator = HeatmapAnnotator()

    def close(self) -> None:
        for path in self.paths.values():
            path.close()

    def __call__(self, frame: np.ndarray) -> list[PathResult]:
        outputs = []
        for name, path in self.paths.items():
            started = time.perf_counter()
            result = path(frame)
            outputs.append(PathResult(name, result, (time.perf_counter() - started) * 1000))
        return outputs

    def annotate(self, frame: np.ndarray, outputs: list[PathResult]) -> np.ndarray:
        drawn = [self.box_annotator.annotate(frame, output.result) if output.mode == "boxes"
                 else self.heatmap_annotator.annotate(frame, output.result) for output in outputs]
        if len(drawn) == 2:
            return side_by_side(drawn[0], drawn[1], titles=tuple(output.mode for output in outputs))
        return drawn[0]
