"""The Python API: `streamsee.open(...)` runs a source through one mode and yields per-frame results.

    import streamsee

    with streamsee.open("clip.mp4", mode="segment", budget_ms=100) as stream:
        for frame in stream:
            print(frame.index, frame.timestamp, frame.analysed, frame.labels)

It is a generator over the threaded pipeline (bounded queues), so nothing piles up in memory,
and leaving the loop early, or an exception inside it, stops and joins its threads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamsee.core.config import RunConfig, load_config
from streamsee.core.labels import CLASSES
from streamsee.core.resource import Resource
from streamsee.core.result import Result
from streamsee.live.analyser import Analyser
from streamsee.live.stats import Stats
from streamsee.live.stream import Analysed, Stream
from streamsee.video.sources import Paced, open_source


@dataclass(frozen=True)
class FrameResult:
    """What the chosen mode said about one frame of the source.

    `boxes` is the box path's Result and `segmentation` the FCN path's (None when the mode does not
    run that path). A skipped frame (`analysed=False`, the worker was behind) carries the latest
    results, as the renderer draws them.
    """

    index: int  # position in the source
    timestamp: float  # seconds, the source's own clock
    analysed: bool
    image: np.ndarray  # the source frame, BGR uint8 (H, W, 3)
    boxes: Result | None
    segmentation: Result | None
    timings_ms: dict[str, float]  # milliseconds each path took on the frame it analysed
    latency_ms: float  # capture -> handed to you

    @property
    def class_map(self) -> np.ndarray | None:
        """(H, W) uint8 class id per pixel, 255 where no class (segment and compare modes)."""
        return None if self.segmentation is None else self.segmentation.class_map

    @property
    def probabilities(self) -> np.ndarray | None:
        """(h, w, 11) float32 probabilities, background last, at the FCN's output resolution (half its
        working size; resize to the frame with cv2.resize when needed) (segment and compare modes)."""
        return None if self.segmentation is None else self.segmentation.probabilities

    @property
    def labels(self) -> list[str]:
        """Names of the classes found, by either path, in class order."""
        found = set()
        for result in (self.boxes, self.segmentation):
            if result is not None:
                found.update(int(i) for i in result.class_id)
        return [CLASSES[i] for i in sorted(found)]


class LiveStream(Resource):
    """A source, a mode and the threads between them; iterate once for FrameResults.

    Made by `streamsee.open`; close() (or leaving the `with` block) stops and joins the threads.
    """

    def __init__(self, config: RunConfig, source: str | os.PathLike | None = None, camera: int | str | None = None):
        self.config = config
        with ExitStack() as stack:  # everything opened so far is closed again if a later step fails
            self.source = stack.enter_context(open_source(source, camera=camera, timeout=config.timeout_s,
                                                          live=config.live, transport=config.rtsp_transport,
                                                          reconnect=config.reconnect_s))
            self.analyser = stack.enter_context(Analyser.from_config(config))
            paced = Paced(self.source) if config.realtime and not self.source.live else self.source
            self.stream = stack.enter_context(Stream(paced, self.analyser, queue_size=config.queue_size,
                                                     budget_ms=config.budget_ms, live=config.live))
            self._resources = stack.pop_all()
        self.closed = False

    @property
    def stats(self) -> Stats:
        """The live statistics (a streamsee.live.stats.Stats): `stream.stats.snapshot()`."""
        return self.stream.stats

    def __iter__(self) -> Iterator[FrameResult]:
        try:
            for item in self.stream:
                if not isinstance(item, Analysed):  # audio packets are for the annotated video only
                    continue
                frame = item.frame
                results = {output.mode: output for output in item.outputs}
                latency_ms = (time.perf_counter() - frame.captured) * 1000
                self.stream.stats.latency(latency_ms)
                yield FrameResult(
                    index=frame.index, timestamp=frame.timestamp, analysed=item.analysed, image=frame.image,
                    boxes=results["boxes"].result if "boxes" in results else None,
                    segmentation=results["segment"].result if "segment" in results else None,
                    timings_ms={mode: output.latency_ms for mode, output in results.items()},
                    latency_ms=latency_ms)
            if self.source.error:
                raise ValueError(self.source.error)
        finally:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self._resources.close()
            self.closed = True


def open(source: str | os.PathLike | None = None, *, camera: int | str | None = None,
         config: str | os.PathLike | None = None, **options: Any) -> LiveStream:
    """Open a source for recognition: a video file, an image, a folder of images, a stream URL,
    `camera=0`, or nothing (the bundled sample). `config` names a preset (default, fast, accurate)
    or a TOML file; `options` override it: mode, proposals, working_width, objectness_width, min_score, budget_ms,
    queue_size, realtime, timeout_s, smooth (0: each frame on its own). Use it in a `with` block, or just loop over it."""
    settings = (load_config(config) if config is not None else RunConfig()).replace(**options)
    return LiveStream(settings, source, camera)
