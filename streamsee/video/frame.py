"""A frame as every source yields it, and what sources share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

CLOCK_TIME_BASE = Fraction(1, 90000)  # for sources whose timestamps are seconds on a clock


@dataclass(frozen=True)
class Frame:
    index: int  # position in the source
    image: np.ndarray  # BGR uint8 (H, W, 3)
    timestamp: float  # seconds, the source's own clock
    captured: float  # time.perf_counter() when it was grabbed
    decode_ms: float = 0.0  # time spent decoding it into BGR pixels


def fps_text(rate: Fraction) -> str:
    return f"{float(rate):.2f}".rstrip("0").rstrip(".")


def frame_seconds(time: float | None, index: int, rate: Fraction, previous: float | None = None) -> float:
    """A decoded frame's time in seconds: the decoder's `time` where it is a finite number; else
    (None or NaN, as PyAV gives for a frame flushed after a network read timed out) one frame after
    `previous`, the last frame's time, or with none `index / rate`."""
    if time is not None and math.isfinite(time):
        return float(time)
    step = 1 / float(rate) if rate else 0.04
    return previous + step if previous is not None and math.isfinite(previous) else index * step
