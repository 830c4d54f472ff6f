"""The threaded pipeline: a producer thread grabs frames, a worker thread runs the chosen path, the
caller's thread draws and writes what comes out.

One shutdown protocol: bounded queues, an END marker passed down the line, a stop Event that
every blocking call checks, and a worker error carried to the caller (`Failed`) and raised there.
Files are lossless: every frame goes through the worker, in order. Live sources: rendering never
waits for the analysis. Every captured frame goes straight to the caller, who draws it with the
newest result available; the worker analyses the newest frame whenever it is free (a one-frame
`Newest` slot: a frame replaced in it before the worker took it is skipped, never dropped), and a
CostGovernor (live/governor.py) lowers the analysis cost while results are drawn later than the
budget. Audio packets, and the Notices a live source yields while it reconnects
(video/reconnect.py), travel in order with the frames.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from streamsee.core.resource import Resource
from streamsee.core.result import PathResult, Result
from streamsee.live.analyser import Analyser
from streamsee.live.governor import CostGovernor
from streamsee.live.stats import Stats
from streamsee.live.turns import Turns
from streamsee.video.sources import Frame

END = object()  # no more items: passed from producer to worker to caller
POLL = 0.05  # seconds between checks of the stop Event while blocked
LIVE_WAITING = 1  # live: items waiting to be drawn at most (more would add their drawing time to the latency)


@dataclass(frozen=True)
class Failed:
    """A producer or worker error, carried down the queues and raised in the caller's thread."""

    error: BaseException


@dataclass(frozen=True)
class Analysed:
    """One frame and the results it is drawn with. From a file: its own results (analysed=False:
    skipped, latest results reused). Live: the newest results when it reached the caller, those of
    frame `result_index` (None: none yet, empty results); analysed=True on the first frame drawn
    with a new result."""

    frame: Frame
    outputs: list[PathResult]
    analysed: bool
    result_index: int | None = None


class Newest:
    """A one-frame slot between the producer and the worker: `offer` replaces what waits (and
    returns it), `take` waits up to `timeout` for a frame (None: none came; END: no more will)."""

    def __init__(self):
        self._ready = threading.Condition()
        self._item = None
        self._ended = False

    def offer(self, item):
        with self._ready:
            replaced, self._item = self._item, item
            self._ready.notify()
            return replaced

    def end(self) -> None:
        with self._ready:
            self._ended = True
            self._ready.notify()

    def take(self, timeout: float):
        with self._ready:
            if self._item is None and not self._ended:
                self._ready.wait(timeout)
            item, self._item = self._item, None
            return END if item is None and self._ended else item

    def __len__(self) -> int:
        return int(self._item is not None)


def nothing_yet(modes: tuple[str, ...], frame: Frame) -> list[PathResult]:
    """Empty results for each path, for the frames drawn before the first analysis ends (the FCN
    path's class map all 255, no class)."""
    return [PathResult(mode, Result(class_map=np.full(frame.image.shape[:2], 255, np.uint8)) if mode == "segment"
                       else Result(), 0.0, frame.captured) for mode in modes]


class Stream(Resource):
    """Iterate to get `Analysed` frames (and the source's audio packets, passed through in order).

    >>> with Stream(source, analyser) as stream:
    ...     for item in stream: ...

    Several sources in one run each have their own Stream (threads, budget, statistics) and Analyser
    (its smoothing follows one source), sharing `turns` (live.turns): the analyses that run at once.
    """

    def __init__(self, source, analyser: Analyser, queue_size: int = 4, budget_ms: float = 250.0,
                 live: bool | None = None, notify: Callable[[str], None] | None = None, turns: Turns | None = None):
        self.source = source
        self.analyser = analyser
        self.live = source.live if live is None else live
        self.stills = source.stills  # unrelated photos: each analysed on its own, nothing smoothed across them
        self.budget_ms = budget_ms
        self.turns = turns  # several sources in one run: the analysis they share (None: this stream's own)
        self.frames: queue.Queue = queue.Queue(maxsize=queue_size)  # files: producer -> worker
        self.newest = Newest()  # live: producer -> worker
        # -> the caller; live, a frame waiting there only ages, so few wait (the producer waits instead)
        self.results: queue.Queue = queue.Queue(maxsize=min(queue_size, LIVE_WAITING) if self.live else queue_size)
        self.stop = threading.Event()
        self.stats = Stats()
        # live: the lower cost levels and the one line when results are late (`notify`: default stderr)
        self.governor = CostGovernor.for_analyser(analyser, budget_ms, notify) if self.live else None
        self._latest: tuple[int, list[PathResult], Frame] | None = None  # live: (serial, outputs, their frame)
        self._work = self._work_on_newest if self.live else self._work_in_order
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

    # ---------------------------------------------------------------- threads
    def _produce(self) -> None:
        # Files: every item through the worker, in order. Live: each frame offered to the worker and
        # also sent straight to the caller (blocking: every captured frame is drawn), and the rest
        # (audio, Notices) to the caller in order with the frames.
        target = self.results if self.live else self.frames
        try:
            for item in self.source.frames():
                if self.stop.is_set():
                    return
                if isinstance(item, Frame):
                    self.stats.captured(item.captured)
                    self.stats.add_stage("decode", item.decode_ms)
                    if self.live and self.newest.offer(item) is not None:
                        self._count_skipped()
                if not self._put(target, item):
                    return
        except BaseException as error:  # carried to the caller, raised there
            self._put(target, Failed(error))
            return
        finally:
            self.newest.end()
        self._put(target, END)

    def _count_skipped(self) -> None:
        self.stats.count(analysed=False)
        for mode in self.analyser.modes:
            self.stats.path(mode).count(analysed=False)

    def _analyse(self, item: Frame) -> list[PathResult]:
        asked = time.perf_counter()
        with self.turns or nullcontext():
            if self.turns is not None:
                self.stats.add_stage("wait for a turn", (time.perf_counter() - asked) * 1000)
            with self.stats.stage("analyse"):
                outputs = self.analyser(item.image, still=self.stills)
        for output in outputs:
            self.stats.add_stage(f"analyse {output.mode}", output.latency_ms)
            path = self.stats.path(output.mode)
            path.add_stage("analyse", output.latency_ms)
            path.latency((output.finished - item.captured) * 1000)
            path.count(analysed=True)
        self.stats.count(analysed=True)
        return outputs

    def _work_in_order(self) -> None:
        try:
            while True:
                item = self._get(self.frames)
                if item is END or isinstance(item, Failed):
                    self._put(self.results, item)
                    return
                if not isinstance(item, Frame):  # audio packet: straight through, in order
                    self._put(self.results, item)
                    continue
                self._put(self.results, Analysed(item, self._analyse(item), analysed=True))
        except BaseException as error:
            self._put(self.results, Failed(error))

    def _work_on_newest(self) -> None:
        serial, cost, retuned = 0, self.governor.costs[0], 0
        try:
            while not self.stop.is_set():
                item = self.newest.take(POLL)
                if item is END:
                    return
                if item is None:
                    continue
                cost = self.governor.wanted() or cost
                if cost.level != retuned:
                    self.analyser.retune(cost.working_width, cost.objectness_width, cost.max_proposals)
                    retuned = cost.level
                started = time.perf_counter()
                outputs = self._analyse(item)
                serial += 1
                self._latest = (serial, outputs, item)
                if cost.rest:  # the lowest levels: the CPU left to drawing every frame for a while
                    self.stop.wait(cost.rest * (time.perf_counter() - started))
        except BaseException as error:
            self._put(self.results, Failed(error))
        finally:
            if self.newest.take(0) not in (None, END):  # a frame left waiting at the end: never analysed
                self._count_skipped()

    # ---------------------------------------------------------------- caller side
    def __iter__(self):
        seen = 0  # live: the serial of the newest result handed over so far
        while True:
            item = self._get(self.results)
            if item is END:
                return
            if isinstance(item, Failed):
                raise item.error
            if not (self.live and isinstance(item, Frame)):
                yield item
                continue
            latest = self._latest
            if latest is None:
                yield Analysed(item, nothing_yet(self.analyser.modes, item), analysed=False)
                continue
            serial, outputs, source_frame = latest
            fresh, seen = serial != seen, serial
            yield Analysed(item, outputs, analysed=fresh, result_index=source_frame.index)
            if fresh:  # the caller is back for more: the new result was drawn, this long after its capture
                self.governor.observe((time.perf_counter() - source_frame.captured) * 1000)

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
