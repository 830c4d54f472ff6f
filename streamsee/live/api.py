"""The Python API: `streamsee.open(...)` runs a source through one mode and yields per-frame results.

    import streamsee

    with streamsee.open("clip.mp4", mode="segment", budget_ms=100) as stream:
        for frame in stream:
            print(frame.index, frame.timestamp, frame.analysed, frame.labels)

It is a generator over the threaded pipeline (bounded queues), so nothing piles up in memory,
and leaving the loop early, or an exception inside it, stops and joins its threads. Several sources at once:

    with streamsee.open(["a.mp4", "udp://0.0.0.0:5000"], mode="segment") as stream:
        for frame in stream:                   # as they come, each tagged with its source's name
            print(frame.source, frame.index, frame.labels)
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
from streamsee.live.several import Merge, source_names
from streamsee.live.stats import Stats
from streamsee.live.stream import END, Analysed, Failed, Stream
from streamsee.live.turns import Turns
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
    source: str = ""  # the source's name: a file's stem, "udp-HOST-PORT", "camera0", "sample" (the bundled one)

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


def frame_result(item: Analysed, source: str) -> FrameResult:
    """An Analysed frame as the API gives it (its latency taken now: capture -> handed to you)."""
    frame = item.frame
    results = {output.mode: output for output in item.outputs}
    return FrameResult(index=frame.index, timestamp=frame.timestamp, analysed=item.analysed, image=frame.image,
                       boxes=results["boxes"].result if "boxes" in results else None,
                       segmentation=results["segment"].result if "segment" in results else None,
                       timings_ms={mode: output.latency_ms for mode, output in results.items()},
                       latency_ms=(time.perf_counter() - frame.captured) * 1000, source=source)


class LiveStream(Resource):
    """Sources, a mode and the threads between them; iterate once for FrameResults.

    Made by `streamsee.open`; close() (or leaving the `with` block) stops and joins the threads. With several
    sources each has its own threads, analyser and statistics (`stats[name]`), they take turns at the analysis
    (config.workers at once), and the frames come as they are ready; one source failing does not stop the
    others: once they have ended, a ValueError names each that failed.
    """

    def __init__(self, config: RunConfig, sources: list[str | os.PathLike | None], cameras: list[int | str] = ()):
        self.config = config
        specs = [(source, None) for source in sources] + [(None, camera) for camera in cameras]
        self.names = source_names([camera if spec is None and camera is not None else spec or "sample"
                                   for spec, camera in specs])
        turns = Turns(config.workers) if len(specs) > 1 else None
        self.streams: list[Stream] = []
        with ExitStack() as stack:  # everything opened so far is closed again if a later step fails
            for spec, camera in specs:
                source = stack.enter_context(open_source(spec, camera=camera, timeout=config.timeout_s,
                                                         live=config.live, transport=config.rtsp_transport,
                                                         reconnect=config.reconnect_s))
                analyser = stack.enter_context(Analyser.from_config(config))
                paced = Paced(source) if config.realtime and not source.live else source
                self.streams.append(stack.enter_context(Stream(paced, analyser, queue_size=config.queue_size,
                                                               budget_ms=config.budget_ms, live=config.live,
                                                               turns=turns)))
            self._resources = stack.pop_all()
        self.closed = False

    @property
    def source(self):
        """The (first) source, as opened: its `description`, `size`, `rate`..."""
        return self.streams[0].source

    @property
    def stats(self) -> Stats | dict[str, Stats]:
        """The live statistics (a streamsee.live.stats.Stats): `stream.stats.snapshot()`; with several
        sources a dict of them by source name."""
        if len(self.streams) == 1:
            return self.streams[0].stats
        return dict(zip(self.names, (stream.stats for stream in self.streams)))

    def __iter__(self) -> Iterator[FrameResult]:
        try:
            if len(self.streams) == 1:
                yield from self._one(self.streams[0], self.names[0])
            else:
                yield from self._several()
        finally:
            self.close()

    def _one(self, stream: Stream, name: str) -> Iterator[FrameResult]:
        for item in stream:
            if isinstance(item, Analysed):  # audio packets are for the annotated video only
                result = frame_result(item, name)
                stream.stats.latency(result.latency_ms)
                yield result
        if stream.source.error:
            raise ValueError(stream.source.error)

    def _several(self) -> Iterator[FrameResult]:
        failed: dict[str, str] = {}
        with Merge(self.streams) as merge:
            for index, item in merge:
                stream, name = self.streams[index], self.names[index]
                if isinstance(item, Failed):
                    failed[name] = str(item.error) or type(item.error).__name__
                elif item is END and stream.source.error:
                    failed[name] = stream.source.error
                elif isinstance(item, Analysed):
                    result = frame_result(item, name)
                    stream.stats.latency(result.latency_ms)
                    yield result
        if failed:
            raise ValueError("; ".join(f"{name}: {error}" for name, error in failed.items()))

    def close(self) -> None:
        if not self.closed:
            self._resources.close()
            self.closed = True


def open(source: str | os.PathLike | list[str | os.PathLike] | None = None, *,
         camera: int | str | list[int | str] | None = None, config: str | os.PathLike | None = None,
         **options: Any) -> LiveStream:
    """Open a source for recognition: a video file, an image, a folder of images, a stream URL,
    `camera=0`, or nothing (the bundled sample); or several, as lists (`["a.mp4", "b.mp4"]`, `camera=[0, 1]`).
    `config` names a preset (default, fast, accurate) or a TOML file; `options` override it: mode, proposals,
    working_width, objectness_width, min_score, budget_ms, queue_size, realtime, timeout_s, smooth (0: each frame
    on its own), workers (several sources: analyses at once), runtime (auto, int8 or float). Use it in a `with`
    block, or just loop over it."""
    settings = (load_config(config) if config is not None else RunConfig()).replace(**options)
    sources = list(source) if isinstance(source, (list, tuple)) else [] if source is None and camera is not None else [source]
    cameras = list(camera) if isinstance(camera, (list, tuple)) else [] if camera is None else [camera]
    if not sources and not cameras:
        raise ValueError("no source: give a source, a list of them, or camera=")
    return LiveStream(settings, sources, cameras)
