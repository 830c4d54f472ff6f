"""One frame through the chosen mode: the box path, the FCN path, or both to compare."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from streamsee.core.config import RunConfig
from streamsee.core.resource import Resource
from streamsee.core.result import PathResult
from streamsee.recognition.boxes import BoxDetector
from streamsee.recognition.fcn import OBJECTNESS_WIDTH, WORKING_WIDTH
from streamsee.recognition.segmenter import Segmenter
from streamsee.render.drawing import BoxAnnotator, HeatmapAnnotator, side_by_side

MODES = ("boxes", "segment", "compare")



class Analyser(Resource):
    """Runs `mode` on frames and draws its results. In "compare" both paths run at once on the
    same frame, each in its own thread (LiteRT, OpenCV and dlib release the GIL).

    >>> with Analyser("compare") as analyse:
    ...     outputs = analyse(frame)             # one PathResult per path
    ...     annotated = analyse.annotate(frame, outputs)
    """

    def __init__(self, mode: str = "segment", proposals: str = "boundieboxies", working_width: int = WORKING_WIDTH,
                 min_score: float | None = None, objectness_width: int = OBJECTNESS_WIDTH):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.paths: dict[str, BoxDetector | Segmenter] = {}
        if mode in ("boxes", "compare"):
            self.paths["boxes"] = BoxDetector(proposals=proposals, min_score=min_score)
        if mode in ("segment", "compare"):
            self.paths["segment"] = Segmenter.at_widths(working_width, objectness_width)
        self.box_annotator = BoxAnnotator()
        self.heatmap_annotator = HeatmapAnnotator()
        self._pool = ThreadPoolExecutor(len(self.paths), thread_name_prefix="streamsee-path")

    @classmethod
    def from_config(cls, config: RunConfig) -> Analyser:
        """The analyser a run's settings ask for: its mode, proposals, working widths and min_score."""
        return cls(config.mode, proposals=config.proposals, working_width=config.working_width,
                   min_score=config.min_score, objectness_width=config.objectness_width)

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(self.paths)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for path in self.paths.values():
            path.close()

    def __call__(self, frame: np.ndarray) -> list[PathResult]:
        if len(self.paths) == 1:
            return [self._run(*next(iter(self.paths.items())), frame)]
        running = [self._pool.submit(self._run, name, path, frame) for name, path in self.paths.items()]
        return [future.result() for future in running]

    @staticmethod
    def _run(name: str, path, frame: np.ndarray) -> PathResult:
        started = time.perf_counter()
        result = path(frame)
        finished = time.perf_counter()
        return PathResult(name, result, (finished - started) * 1000, finished)

    def annotate(self, frame: np.ndarray, outputs: list[PathResult]) -> np.ndarray:
        drawn = [self.box_annotator.annotate(frame, output.result) if output.mode == "boxes"
                 else self.heatmap_annotator.annotate(frame, output.result) for output in outputs]
        if len(drawn) == 2:
            return side_by_side(drawn[0], drawn[1], titles=tuple(output.mode for output in outputs))
        return drawn[0]
