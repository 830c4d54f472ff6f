"""What a test needs from outside the project (shared data, system packages) and may lack here."""

from __future__ import annotations

import os

import pytest


def need(message: str) -> None:
    """Skip for want of something CI always has (shared data, system packages); in CI, fail instead."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
