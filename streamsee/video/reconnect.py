"""Getting a lost live source back: tries with capped exponential backoff, and the Notices that tell people.

A live source (a network stream, a camera) that is lost mid-run does not end the run: its `frames()`
yields `Notice`s instead of frames while `reconnecting` tries to open it again, and carries on with the
frames of the new connection when one opens (the pipeline shows the Notices on the HUD and the terminal,
and keeps the window and the outputs open meanwhile). Tries follow at 0.5, 1, 2, 4, then every 5 s,
for up to the source's `reconnect` seconds after its last frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

FIRST_DELAY = 0.5  # seconds before the second try (the first is at once)
MAX_DELAY = 5.0  # the backoff's cap: a source that comes back is seen at most this long after
TICK = 0.25  # seconds between `waiting` Notices: the window stays alive, a stop is seen at once


@dataclass(frozen=True)
class Notice:
    """News about a source for people, yielded by `frames()` between frames: the source was `lost`,
    is `waiting` for its next try, or is `back`. `text` is one line for the terminal and the HUD,
    credentials already masked; `frames` the frames the source had delivered; `at` the
    time.perf_counter() it happened."""

    state: str
    text: str
    frames: int
    at: float
    attempt: int = 0


def delays(first: float = FIRST_DELAY, cap: float = MAX_DELAY):
    """0.5, 1, 2, 4, 5, 5, ... seconds: the waits between tries."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, cap)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def release(connection) -> None:
    """Closes what `connect()` returned: a PyAV container (close) or an OpenCV capture (release)."""
    closer = getattr(connection, "close", None) or getattr(connection, "release", None)
    if closer is not None:
        closer()


class Attempt:
    """One `connect()` call on a thread of its own, so that whoever waits for it keeps hearing (a server
    that does not answer holds a try for the source's whole time-out, and the window must stay alive
    meanwhile). A connection that opens after the attempt was abandoned is closed at once."""

    def __init__(self, connect: Callable[[], object], discard: Callable[[object], None] = release):
        self.connection: object | None = None
        self.error: BaseException | None = None
        self.discard = discard
        self._lock = threading.Lock()
        self._abandoned = False
        self._done = threading.Event()
        threading.Thread(target=self._run, args=(connect,), name="streamsee-reconnect", daemon=True).start()

    def _run(self, connect: Callable[[], object]) -> None:
        try:
            connection = connect()
        except BaseException as error:  # handed to the waiting thread, which decides
            connection, self.error = None, error
        with self._lock:
            if self._abandoned and connection is not None:
                self.discard(connection)
            else:
                self.connection = connection
        self._done.set()

    def wait(self, timeout: float) -> bool:
        """True once connect() has returned or raised."""
        return self._done.wait(timeout)

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            connection, self.connection = self.connection, None
        if connection is not None:
            self.discard(connection)


def reconnecting(name: str, reason: str, frames: int, window: float, since: float, connect: Callable[[], object],
                 closing: threading.Event):
    """Yields Notices while it calls `connect()` (which raises OSError or ValueError while the source is
    away), at once and then after each of `delays()`, until `window` seconds after `since` (the last
    frame's perf_counter) have passed or `closing` is set (at least one try is made). Each try runs on
    its own thread (`Attempt`): a `waiting` Notice comes every TICK during the try too. Returns what
    `connect()` returned, or None: given up."""
    lost = time.perf_counter()
    yield Notice("lost", f"{name} lost after {plural(frames, 'frame')} ({reason}); "
                         f"reconnecting for up to {window:g} s", frames, lost)
    attempt = 0
    for delay in delays():
        if closing.is_set():
            return None
        attempt += 1
        trying = Attempt(connect)
        try:
            while not trying.wait(TICK):
                if closing.is_set():
                    trying.abandon()
                    return None
                yield Notice("waiting", f"source lost {time.perf_counter() - lost:.0f} s ago: reconnecting "
                                        f"(attempt {attempt} under way)", frames, time.perf_counter(), attempt)
        except GeneratorExit:  # the reader stopped listening mid-try: a late connection is closed
            trying.abandon()
            raise
        if trying.error is not None and not isinstance(trying.error, (OSError, ValueError)):
            raise trying.error
        if trying.error is None:
            now = time.perf_counter()
            yield Notice("back", f"{name} back after {now - lost:.1f} s ({plural(attempt, 'attempt')})",
                         frames, now, attempt)
            return trying.connection
        wake = min(time.perf_counter() + delay, since + window)
        if wake <= time.perf_counter():
            return None
        while (left := wake - time.perf_counter()) > 0:
            yield Notice("waiting", f"source lost {time.perf_counter() - lost:.0f} s ago: reconnecting "
                                    f"(attempt {attempt + 1} in {left:.0f} s)", frames, time.perf_counter(), attempt)
            if closing.wait(min(TICK, left)):
                return None
    return None  # not reached: delays() never ends
