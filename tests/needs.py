"""What a test needs from outside the project (shared data, system packages) and may lack here."""

from __future__ import annotations

import os

import pytest


def need(message: str) -> None:
    """Skip for want of something CI always has (shared data, system packages); in CI, fail instead."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def hears_ctrl_c() -> None:
    """For subprocess's preexec_fn: Ctrl-C (SIGINT) as a terminal delivers it. A shell starting a job in the
    background without job control (`cmd &`, nohup) sets SIGINT to ignored, the child inherits that, and
    Python then leaves it ignored: a test sending SIGINT would see the run go on to its end."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
