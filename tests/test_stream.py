"""The threaded pipeline's protocol: order, lossless files, live dropping and skipping, shutdown."""

import threading
import time

import numpy as np
import pytest

from streamsee.core.result import PathResult, Result
from streamsee.live.stream import Analysed, Stream
from streamsee.video.sources import Frame


class CountingSource:
    """Frames 0..n-1 of 8x8 pixels, produced every `interval` seconds (a stand-in camera when live)."""

    stills = False

    def __init__(self, n, interval=0.0, live=False, fail_at=None):
        self.n, self.interval, self.live, self.fail_at = n, interval, live, fail_at

    def frames(self):
        for index in range(self.n):
            if index == self.fail_at:
                raise OSError("camera unplugged")
            time.sleep(self.interval)
            yield Frame(index, np.full((8, 8, 3), index % 256, np.uint8), index * 0.04, time.perf_counter())


class SlowAnalyser:
    """Takes `seconds` per frame; raises on frame `fail_at`; records what it saw."""

    mode = "segment"
    modes = ("segment",)

    def __init__(self, seconds=0.0, fail_at=None):
        self.seconds, self.fail_at, self.seen = seconds, fail_at, []

    def __call__(self, image, still=False):
        index = int(image[0, 0, 0])
        if index == self.fail_at:
            raise RuntimeError(f"analysis failed on frame {index}")
        time.sleep(self.seconds)
        self.seen.append(index)
        return [PathResult("segment", Result(), self.seconds * 1000, time.perf_counter())]


def streamsee_threads():
    return [t for t in threading.enumerate() if t.name.startswith("streamsee-")]


def test_files_are_lossless_and_in_order():
    analyser = SlowAnalyser(0.002)
    with Stream(CountingSource(50), analyser, queue_size=2) as stream:
        items = list(stream)
    assert [item.frame.index for item in items] == list(range(50))
    assert all(isinstance(item, Analysed) and item.analysed for item in items)
    assert analyser.seen == list(range(50)) and stream.dropped == stream.skipped == 0
    assert not streamsee_threads()


def test_worker_error_reaches_the_caller_and_threads_stop():
    with pytest.raises(RuntimeError, match="frame 3"):
        with Stream(CountingSource(100), SlowAnalyser(fail_at=3)) as stream:
            for _ in stream:
                pass
    assert not streamsee_threads()


def test_producer_error_reaches_the_caller_after_the_frames_before_it():
    seen = []
    with pytest.raises(OSError, match="unplugged"):
        with Stream(CountingSource(10, fail_at=6), SlowAnalyser()) as stream:
            seen.extend(item.frame.index for item in stream)
    assert seen == list(range(6))
    assert not streamsee_threads()


def test_leaving_early_stops_a_blocked_producer():
    with Stream(CountingSource(10_000), SlowAnalyser(), queue_size=2) as stream:
        for item in stream:
            if item.frame.index == 5:
                break
    assert not streamsee_threads()


def test_live_source_faster_than_analysis_keeps_latency_bounded():
    # 100 frames at 200 fps against 20 ms of analysis: the backlog must not grow.
    analyser = SlowAnalyser(0.02)
    latencies = []
    with Stream(CountingSource(100, interval=0.005, live=True), analyser, queue_size=4, budget_ms=30) as stream:
        for item in stream:
            latencies.append(time.perf_counter() - item.frame.captured)
    assert stream.dropped + stream.skipped > 0
    assert len(latencies) + stream.dropped == 100
    assert max(latencies) < 0.5  # a backlog of 100 frames x 20 ms would be 2 s
