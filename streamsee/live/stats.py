"""Live statistics: stage timers (context managers), rates and latency percentiles.

Writers (the producer, worker and renderer threads) record; renderers only read a snapshot.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from streamsee.core.snapshot import Snapshot

WINDOW = 300  # recent samples kept per series


@dataclass
class Stats:
    """Thread-safe counters and recent timings of a run, and of each path in it (`path(name)`).

    For the run, latency is capture -> rendered; for a path, capture -> that path's result.
    """

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stages: dict[str, deque] = field(default_factory=dict)
    _latency: deque = field(default_factory=lambda: deque(maxlen=WINDOW))
    _latency_all: list = field(default_factory=list)
    _captured: deque = field(default_factory=lambda: deque(maxlen=60))
    _analysed_at: deque = field(default_factory=lambda: deque(maxlen=60))
    frames: int = 0
    analysed: int = 0
    skipped: int = 0
    dropped: int = 0
    _paths: dict[str, Stats] = field(default_factory=dict)

    def path(self, name: str) -> Stats:
        """The figures of one path (created on first use; one per path for the whole run)."""
        with self._lock:
            return self._paths.setdefault(name, Stats())

    @contextmanager
    def stage(self, name: str):
        """with stats.stage("analyse"): ...  records the block's milliseconds under `name`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add_stage(name, (time.perf_counter() - started) * 1000)

    def add_stage(self, name: str, milliseconds: float) -> None:
        with self._lock:
            self._stages.setdefault(name, deque(maxlen=WINDOW)).append(milliseconds)

    def captured(self, when: float) -> None:
        with self._lock:
            self._captured.append(when)

    def count(self, analysed: bool) -> None:
        with self._lock:
            self.frames += 1
            if analysed:
                self.analysed += 1
                self._analysed_at.append(time.perf_counter())
            else:
                self.skipped += 1

    def drop(self, n: int = 1) -> None:
        with self._lock:
            self.dropped += n

    def latency(self, milliseconds: float) -> None:
        with self._lock:
            self._latency.append(milliseconds)
            self._latency_all.append(milliseconds)

    def snapshot(self, whole_run: bool = False) -> Snapshot:
        """Recent figures (or, with whole_run, latency percentiles over every frame so far)."""
        paths = {name: path.snapshot(whole_run) for name, path in list(self._paths.items())}
        with self._lock:
            latency = np.array(self._latency_all if whole_run else self._latency, np.float64)
            return Snapshot(
                source_fps=_rate(self._captured), analysed_fps=_rate(self._analysed_at),
                latency_p50_ms=float(np.percentile(latency, 50)) if len(latency) else 0.0,
                latency_p95_ms=float(np.percentile(latency, 95)) if len(latency) else 0.0,
                latency_max_ms=float(latency.max()) if len(latency) else 0.0,
                stage_ms={name: float(np.mean(values)) for name, values in self._stages.items() if values},
                frames=self.frames, analysed=self.analysed, skipped=self.skipped, dropped=self.dropped, paths=paths)


def _rate(times: deque) -> float:
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])
