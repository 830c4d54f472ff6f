"""The analysis shared by several sources in one run: at most `workers` frames analysed at once, the
sources taking turns in the order they asked (first come, first served), so a source whose frames
come faster cannot starve the others.

    >>> turns = Turns(workers=1)
    >>> with turns:          # in each source's worker thread, around its analysis
    ...     outputs = analyser(frame)
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Self

DEFAULT_WORKERS = 2  # two at once: one source's drawing, encoding and Python steps overlap another's model call


def default_workers() -> int:
    """Analyses at once by default: two (each model call already runs on every core; on 2 cores, 2 sources
    ran 6 % and 4 sources 14 % faster in all with two at once than with one: docs/several.md)."""
    return DEFAULT_WORKERS


class Turns:
    """A first-come-first-served semaphore of `workers` places (threading.Semaphore wakes waiters in any order)."""

    def __init__(self, workers: int | None = None):
        workers = default_workers() if workers is None else workers
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
        self.workers = workers
        self._free = workers
        self._waiting: deque[threading.Event] = deque()
        self._lock = threading.Lock()
        self.waits = 0  # times a caller had to wait for a place

    def __enter__(self) -> Self:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return self
            called = threading.Event()
            self._waiting.append(called)
            self.waits += 1
        called.wait()  # the place is handed over by the one leaving (`_free` is not raised meanwhile)
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._free += 1
