"""The threaded pipeline: a producer thread grabs frames into a bounded queue, a worker thread
runs the chosen path, the caller's thread draws and writes what comes out.

One shutdown protocol: bounded queues, an END marker passed down the line, a stop Event that
every blocking call checks, and a worker error carried to the caller (`Failed`) and raised there.
Files are lossless (every frame, in order). Live sources never block: when the frame queue is
full the oldest frame is dropped (and counted), and a frame older than the latency budget is
skipped (rendered with the latest results) when a newer one is already waiting. Audio packets
never wait behind frames that may be dropped: live, they go straight to the caller, as do the
Notices a live source yields while it reconnects (video/reconnect.py).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

from streamsee.core.resource import Resource
from streamsee.core.result import PathResult
from streamsee.live.analyser import Analyser
from streamsee.live.stats import Stats
from streamsee.video.sources import Frame

END = object()  # no more items: passed from producer to worker to caller
POLL = 0.05  # seconds between checks of the stop Event while blocked


@dataclass(frozen=True)
class Failed:
    """A producer or worker error, carried down the queues and raised in the caller's thread."""

    error: BaseException


@dataclass(frozen=True)
class Analysed:
    """One frame and the results it is drawn with; analysed=False: skipped, latest results reused."""

    frame: Frame
    outputs: list[PathResult]
    analysed: bool


class Stream(Resource):
    """Iterate to get `Analysed` frames (and the source's audio packets, passed through in order).

    >>> with Stream(source, analyser) as stream:
    ...     for item in stream: ...
    """

    def __init__(self, source, analyser: Analyser, queue_size: int = 4, budget_ms: float = 250.0,
                 live: bool | None = None):
        self.source = source
        self.analyser = analyser
        self.live = source.live if live is None else live
        self.stills = source.stills  # unrelated photos: each analysed on its own, nothing smoothed across them
        self.budget_ms = budget_ms
        self.frames: queue.Queue = queue.Queue(maxsize=queue_size)
        self.results: queue.Queue = queue.Queue(maxsize=queue_size)
        self.stop = threading.Event()
        self.stats = Stats()
        self._threads = [threading.Thread(target=self._produce, name="streamsee-producer", daemon=True),
                         threading.Thread(target=self._work, name="streamsee-worker", daemon=True)]
        for thread in self._threads:
            thread.start()

    # ---------------------------------------------------------------- queue helpers
    def _put(self, target: queue.Queue, item) -> bool:
        while not self.stop.is_set():
            try:
                target.put(item, timeout=POLL)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, source: queue.Queue):
        while not self.stop.is_set():
            try:
                return source.get(timeout=POLL)
            except queue.Empty:
                continue
        return END

    def _put_newest(self, item) -> None:
        """Live policy: never block; drop the oldest waiting frame to make room."""
        while not self.stop.is_set():
            try:
                self.frames.put_nowait(item)
                return
            except queue.Full:
                try:
                    self.frames.get_nowait()
                    self.stats.drop()
                except queue.Empty:
                    pass

    # ---------------------------------------------------------------- threads
    def _produce(self) -> None:
        try:
            for item in self.source.frames():
                if self.stop.is_set():
                    return
                if isinstance(item, Frame):
                    self.stats.captured(item.captured)
                    self.stats.add_stage("decode", item.decode_ms)
                if self.live and isinstance(item, Frame):
                    self._put_newest(item)
                elif self.live:  # audio, or a Notice from a source that reconnects: around the frame queue, undropped
                    if not self._put(self.results, item):
                        return
                elif not self._put(self.frames, item):
                    return
        except BaseException as error:  # carried to the caller, raised there
            self._put(self.frames, Failed(error))
            return
        self._put(self.frames, END)

    def _work(self) -> None:
        latest: list[PathResult] = []
        try:
            while True:
                item = self._get(self.frames)
                if item is END or isinstance(item, Failed):
                    self._put(self.results, item)
                    return
                if not isinstance(item, Frame):  # audio packet: straight through, in order
                    self._put(self.results, item)
                    continue
                age_ms = (time.perf_counter() - item.captured) * 1000
                if self.live and age_ms > self.budget_ms and not self.frames.empty():
                    self.stats.count(analysed=False)
                    for mode in self.analyser.modes:
                        self.stats.path(mode).count(analysed=False)
                    self._put(self.results, Analysed(item, latest, analysed=False))
                    continue
                with self.stats.stage("analyse"):
                    latest = self.analyser(item.image, still=self.stills)
                for output in latest:
                    self.stats.add_stage(f"analyse {output.mode}", output.latency_ms)
                    path = self.stats.path(output.mode)
                    path.add_stage("analyse", output.latency_ms)
                    path.latency((output.finished - item.captured) * 1000)
                    path.count(analysed=True)
                self.stats.count(analysed=True)
                self._put(self.results, Analysed(item, latest, analysed=True))
        except BaseException as error:
            self._put(self.results, Failed(error))

    # ---------------------------------------------------------------- caller side
    def __iter__(self):
        while True:
            item = self._get(self.results)
            if item is END:
                return
            if isinstance(item, Failed):
                raise item.error
            yield item

    @property
    def dropped(self) -> int:
        return self.stats.dropped

    @property
    def skipped(self) -> int:
        return self.stats.skipped

    def close(self) -> None:
        """Stop both threads and wait for them; safe twice, and safe while they are blocked."""
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
