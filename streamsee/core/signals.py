"""Ctrl-C and SIGTERM held back for a few steps that must not be cut in two, then delivered."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HELD = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back inside the block and delivered on leaving it, to the handlers there before
    (KeyboardInterrupt, the command line's Terminated). For steps that leave something broken when an exception
    lands between them: packets an encoder gave back but that were not yet written to the file (the file's
    first keyframe lost, nothing decodes), a task submitted but not yet recorded. Signal handlers live in the
    main thread: anywhere else this holds nothing back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = {signum: signal.signal(signum, lambda number, frame: caught.append(number)) for signum in HELD}
    try:
        yield
    finally:
        for signum, handler in held.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for signum in caught:
            signal.raise_signal(signum)


__all__ = ["signals_held"]
