"""One frame through the chosen mode: the box path, the FCN path, or both to compare."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from streamsee.core.config import RunConfig
from streamsee.core.resource import Resource
from streamsee.core.result import PathResult
from streamsee.live.smoothing import Smoother
from streamsee.recognition.boxes import DEFAULT_BOX_MODEL, BoxDetector
from streamsee.recognition.fcn import DEFAULT_FCN, DEFAULT_OBJECTNESS, OBJECTNESS_WIDTH, WORKING_WIDTH
from streamsee.recognition.segmenter import Segmenter
from streamsee.recognition.variants import Choice, choose
from streamsee.render.drawing import BoxAnnotator, HeatmapAnnotator, side_by_side

MODES = ("boxes", "segment", "compare")
# The shipped models each path runs, with the input shape their export is chosen for (recognition.variants):
# the FCNs at their working widths on a 4:3 frame, the box model on a batch of 64 crops (the box path: 300).
SHIPPED = {"fcn": (DEFAULT_FCN, (1, WORKING_WIDTH * 3 // 4, WORKING_WIDTH, 3)),
           "objectness": (DEFAULT_OBJECTNESS, (1, 192, OBJECTNESS_WIDTH, 3)),
           "boxes": (DEFAULT_BOX_MODEL, (64, 32, 32, 3))}
NEEDS = {"boxes": ("boxes",), "segment": ("fcn", "boxes"), "compare": ("fcn", "boxes")}


def choose_models(mode: str, runtime: str = "auto", objectness: bool = False) -> dict[str, Choice]:
    """The export and threads of each shipped model `mode` runs, the objectness FCN too if asked
    (runtime "auto": the fastest here, cached)."""
    names = NEEDS[mode] + (("objectness",) if objectness and mode != "boxes" else ())
    return {name: choose(*SHIPPED[name], runtime=runtime) for name in names}



class Analyser(Resource):
    """Runs `mode` on frames and draws its results. In "compare" both paths run at once on the
    same frame, each in its own thread (LiteRT, OpenCV and dlib release the GIL).

    `smooth` > 0 blends each path's result with the earlier frames' (live.smoothing: the share of
    the running state a new frame keeps; 0, the default here, gives each frame's own result). A
    frame analysed with still=True (a photo among unrelated ones) is neither smoothed nor remembered.
    `runtime` picks each model's export ("auto": int8 or float, whichever is faster here, timed once and
    cached; recognition.variants); `objectness_width` turns the objectness FCN on (None: off, the default).

    >>> with Analyser("compare") as analyse:
    ...     outputs = analyse(frame)             # one PathResult per path
    ...     annotated = analyse.annotate(frame, outputs)
    """

    def __init__(self, mode: str = "segment", proposals: str = "boundieboxies", working_width: int = WORKING_WIDTH,
                 min_score: float | None = None, objectness_width: int | None = None, smooth: float = 0.0,
                 runtime: str = "auto"):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.smoother = Smoother(smooth)
        self.models = choose_models(mode, runtime, objectness_width is not None)  # each model's export and threads
        self.paths: dict[str, BoxDetector | Segmenter] = {}
        if mode in ("boxes", "compare"):
            boxes = self.models["boxes"]
            self.paths["boxes"] = BoxDetector(proposals=proposals, model_path=boxes.path, min_score=min_score,
                                              threads=boxes.threads)
        if mode in ("segment", "compare"):
            self.paths["segment"] = Segmenter.at_widths(working_width, objectness_width, self.models)
        self.box_annotator = BoxAnnotator()
        self.heatmap_annotator = HeatmapAnnotator()
        self._pool = ThreadPoolExecutor(len(self.paths), thread_name_prefix="streamsee-path")

    @classmethod
    def from_config(cls, config: RunConfig) -> Analyser:
        """The analyser a run's settings ask for: its mode, proposals, working widths, min_score, smoothing and runtime."""
        return cls(config.mode, proposals=config.proposals, working_width=config.working_width,
                   min_score=config.min_score, objectness_width=config.objectness_width, smooth=config.smooth,
                   runtime=config.runtime)

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(self.paths)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for path in self.paths.values():
            path.close()

    def retune(self, working_width: int | None = None, objectness_width: int | None = None,
               max_proposals: int | None = None) -> None:
        """Change a path's cost between frames (live.governor): the FCN path rebuilt at these working
        widths, the box path classifying at most `max_proposals` crops a frame; None leaves a setting.
        Call it from the thread that analyses, never during an analysis."""
        segment = self.paths.get("segment")
        if segment is not None and working_width is not None:
            widths = (working_width, objectness_width or segment.objectness_width)
            if widths != (segment.working_width, segment.objectness_width):
                self.paths["segment"] = Segmenter.at_widths(*widths, self.models)
                segment.close()
        if "boxes" in self.paths and max_proposals is not None:
            self.paths["boxes"].max_proposals = max_proposals

    def __call__(self, frame: np.ndarray, still: bool = False) -> list[PathResult]:
        smooth = self.smoother.keep > 0 and not still
        new_scene = smooth and self.smoother.scene_cut(frame)
        if len(self.paths) == 1:
            return [self._run(*next(iter(self.paths.items())), frame, smooth, new_scene)]
        running = [self._pool.submit(self._run, name, path, frame, smooth, new_scene) for name, path in self.paths.items()]
        return [future.result() for future in running]

    def _run(self, name: str, path, frame: np.ndarray, smooth: bool, new_scene: bool) -> PathResult:
        started = time.perf_counter()
        if smooth and name == "segment":  # video: the coarse level kept a frame (smoothing.CoarseReuse)
            result = path(frame, coarse=self.smoother.coarse_map(path, frame, new_scene))
        else:
            result = path(frame)
        if smooth:
            result = self.smoother(frame, name, result, new_scene)
        finished = time.perf_counter()
        return PathResult(name, result, (finished - started) * 1000, finished)

    def annotate(self, frame: np.ndarray, outputs: list[PathResult]) -> np.ndarray:
        drawn = [self.box_annotator.annotate(frame, output.result) if output.mode == "boxes"
                 else self.heatmap_annotator.annotate(frame, output.result) for output in outputs]
        if len(drawn) == 2:
            return side_by_side(drawn[0], drawn[1], titles=tuple(output.mode for output in outputs))
        return drawn[0]
