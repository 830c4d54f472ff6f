"""The latency budget held on live sources (issue 29): every captured frame is drawn and written with
the newest result, the analysis takes the newest frame whenever it is free, and the CostGovernor
lowers the analysis cost, saying so once, while results are drawn later than the budget. Files read
without --realtime stay lossless. Fake analysers with fixed sleeps: behaviour is asserted (counts,
levels, lines said), timing only as a generous bound."""

from __future__ import annotations

import json
import time

import av
import numpy as np
import pytest
from test_sources import ffmpeg
from test_stream import CountingSource, SlowAnalyser, streamsee_threads

from streamsee.core.result import PathResult, Result
from streamsee.live import governor as governing
from streamsee.live.governor import Cost, CostGovernor, ladder
from streamsee.live.pipeline import process
from streamsee.live.stream import Analysed, Stream, nothing_yet
from streamsee.recognition.boxes import MAX_PROPOSALS
from streamsee.video.sources import Frame, Paced, VideoFile


def make_clip(path, seconds=2, rate=30):
    import subprocess

    result = subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                             f"testsrc=size=160x120:rate={rate}:duration={seconds}", "-c:v", "libx264",
                             "-pix_fmt", "yuv420p", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return path


def decoded_frames(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


class SleepingAnalyser:
    """The Analyser's interface with a fixed sleep per frame and nothing drawn; `paths` (a working
    width per path, as the governor reads them) and `retune` record the cost it was asked for."""

    mode = "segment"
    modes = ("segment",)

    def __init__(self, seconds: float, per_width: bool = False):
        self.seconds, self.per_width = seconds, per_width
        self.paths = {"segment": _Widths(160, 256)}
        self.retuned: list[tuple] = []
        self.analysed = 0

    def retune(self, working_width=None, objectness_width=None, max_proposals=None):
        self.retuned.append((working_width, objectness_width, max_proposals))
        self.paths["segment"] = _Widths(working_width, objectness_width)

    def __call__(self, image, still=False):
        seconds = self.seconds * (self.paths["segment"].working_width / 160 if self.per_width else 1)
        time.sleep(seconds)
        self.analysed += 1
        return [PathResult("segment", Result(), seconds * 1000, time.perf_counter())]

    def annotate(self, image, outputs):
        return image.copy()


class _Widths:
    def __init__(self, working_width, objectness_width):
        self.working_width, self.objectness_width = working_width, objectness_width


# ---------------------------------------------------------------- rendering never waits


def test_a_live_run_writes_every_captured_frame_with_the_newest_result(tmp_path):
    clip = make_clip(tmp_path / "in.mp4")  # 60 frames at 30 fps
    out, rows_path, said = tmp_path / "out.mp4", tmp_path / "rows.jsonl", []
    analyser = SleepingAnalyser(0.4)  # twelve frames' time per analysis
    with VideoFile(clip) as source:
        report = process(Paced(source), analyser, output=out, jsonl=rows_path, budget_ms=100, hud=True,
                         notify=said.append)
    snapshot = report.snapshot
    assert decoded_frames(out) == snapshot.frames == 60  # frames written == frames captured
    assert snapshot.dropped == 0 and 0 < snapshot.analysed < 60
    assert snapshot.analysed + snapshot.skipped == snapshot.frames == analyser.analysed + snapshot.skipped
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    assert [row["frame"] for row in rows] == list(range(60))
    assert 0 < sum(row["analysed"] for row in rows) <= snapshot.analysed  # True: first drawn with a new result
    # Rendering does not wait for an analysis: no frame is drawn as late as one analysis takes (400 ms).
    assert snapshot.latency_p95_ms < 400
    assert len(said) == 1 and "100 ms budget" in said[0] and "cannot be lowered" not in said[0]
    assert report.cost is not None and report.cost["late_said"]
    assert not streamsee_threads()


def test_live_frames_carry_the_newest_result_and_where_it_came_from():
    analyser = SlowAnalyser(0.05)
    with Stream(CountingSource(60, interval=0.005, live=True), analyser, budget_ms=1000) as stream:
        items = list(stream)
    assert [item.frame.index for item in items] == list(range(60))
    assert all(isinstance(item, Analysed) for item in items)
    with_results = [item for item in items if item.result_index is not None]
    assert with_results and all(item.result_index <= item.frame.index for item in with_results)
    # analysed=True marks the first frame drawn with each new result, so result_index changes exactly there
    indices = [item.result_index for item in with_results]
    fresh = [item.analysed for item in with_results]
    assert fresh == [i == 0 or indices[i] != indices[i - 1] for i in range(len(indices))]
    first = items[0]
    assert first.result_index is None and not first.analysed and len(first.outputs) == 1
    stats = stream.stats
    assert stats.frames == 60 == stats.analysed + stats.skipped and stats.analysed == len(analyser.seen)
    assert stats.dropped == 0


def test_frames_before_the_first_result_get_empty_results_for_each_path():
    frame = Frame(0, np.zeros((12, 16, 3), np.uint8), 0.0, time.perf_counter())
    boxes, segment = nothing_yet(("boxes", "segment"), frame)
    assert (boxes.mode, segment.mode) == ("boxes", "segment")
    assert len(boxes.result) == len(segment.result) == 0
    assert segment.result.class_map.shape == (12, 16) and (segment.result.class_map == 255).all()


# ---------------------------------------------------------------- files stay lossless


def test_files_without_realtime_stay_lossless(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", seconds=1)
    analyser = SleepingAnalyser(0.02)
    with VideoFile(clip) as source:
        report = process(source, analyser, output=tmp_path / "out.mp4", budget_ms=1)
    assert report.snapshot.frames == report.snapshot.analysed == analyser.analysed == 30
    assert report.snapshot.skipped == report.snapshot.dropped == 0
    assert report.cost is None and analyser.retuned == []  # full cost, every frame, in order


def test_a_stream_over_a_file_has_no_governor_and_analyses_every_frame_in_order():
    analyser = SlowAnalyser(0.001)
    with Stream(CountingSource(40), analyser, budget_ms=1) as stream:
        assert [item.frame.index for item in stream] == list(range(40))
    assert stream.governor is None and analyser.seen == list(range(40))


# ---------------------------------------------------------------- the governor


def test_the_levels_are_explicit_for_each_mode():
    segment = ladder(160, 256, None)
    assert [(cost.working_width, cost.objectness_width, cost.rest) for cost in segment] == [
        (160, 256, 0), (128, 208, 0), (96, 152, 0), (64, 104, 0), (64, 104, 1), (64, 104, 2)]  # then rests
    assert all(cost.max_proposals is None for cost in segment)
    assert [cost.max_proposals for cost in ladder(None, None, 150)] == [150, 100, 60, 30, 30, 30]
    compare = ladder(160, 256, 150)
    assert [(cost.working_width, cost.max_proposals) for cost in compare] == [(160, 150), (128, 100), (96, 60),
                                                                              (64, 30), (64, 30), (64, 30)]
    assert [cost.level for cost in compare] == [0, 1, 2, 3, 4, 5]
    assert [(cost.working_width, cost.rest) for cost in ladder(64, 64, None)] == [(64, 0), (64, 1), (64, 2)]
    assert ladder(None, None, None) == [Cost(0)]  # a stand-in analyser: nothing to lower
    # a detector set to classify all (0) is scaled from the box path's default
    assert governing.DEFAULT_PROPOSALS == MAX_PROPOSALS
    assert [cost.max_proposals for cost in ladder(None, None, 0)] == [0, 67, 40, 20, 20, 20]


def test_the_governor_lowers_the_cost_step_by_step_and_says_so_once():
    said = []
    governor = CostGovernor(ladder(160, 256, 150), budget_ms=100, notify=said.append)
    for _ in range(governing.WARMUP):
        governor.observe(5000)  # the first inference allocates: not judged, nothing said
    assert said == [] and governor.wanted() is None
    steps = []
    for _ in range(40):
        governor.observe(300)
        cost = governor.wanted()
        if cost is not None:
            steps.append((cost.level, cost.working_width, cost.max_proposals))
    assert steps == [(1, 128, 100), (2, 96, 60), (3, 64, 30), (4, 64, 30), (5, 64, 30)]
    assert len(said) == 1 and "300 ms" in said[0] and "100 ms budget" in said[0]
    assert [change["to"] for change in governor.report()["changes"]] == [1, 2, 3, 4, 5]
    assert governor.level == 5  # the lowest, and it stays there while results are late


def test_the_governor_raises_the_cost_again_when_there_is_room():
    now = [0.0]
    governor = CostGovernor(ladder(160, 256, None), budget_ms=100, notify=lambda line: None, clock=lambda: now[0])
    for _ in range(governing.WARMUP + governing.LOWER_AFTER):
        governor.observe(300)
    assert governor.level == 1 and governor.wanted().working_width == 128  # the worker applies it
    for _ in range(governing.RAISE_AFTER * 2):
        governor.observe(10)  # plenty of room, but level 0 was just found over the budget
    assert governor.level == 1
    now[0] += governing.RETRY_S
    for _ in range(governing.RAISE_AFTER):
        governor.observe(10)
    assert governor.level == 0 and governor.wanted().working_width == 160


def test_results_within_the_budget_change_nothing_and_say_nothing():
    said = []
    governor = CostGovernor(ladder(160, 256, None), budget_ms=250, notify=said.append)
    for _ in range(100):
        governor.observe(120)
    assert governor.level == 0 and said == [] and governor.report()["changes"] == []


def test_a_mode_that_cannot_be_lowered_says_so_in_its_one_line():
    said = []
    governor = CostGovernor(ladder(None, None, None), budget_ms=50, notify=said.append)
    for _ in range(20):
        governor.observe(400)
    assert len(said) == 1 and "cannot be lowered" in said[0] and governor.level == 0


def test_a_live_stream_lowers_a_slow_analysers_cost_once_told_once():
    # 0.12 s per analysis at width 160 (less at smaller widths) against a 50 ms budget: every result is late.
    said = []
    analyser = SleepingAnalyser(0.12, per_width=True)
    with Stream(CountingSource(600, interval=0.005, live=True), analyser, budget_ms=50,
                notify=said.append) as stream:
        for _ in stream:
            if len(analyser.retuned) == len(stream.governor.costs) - 1:  # the lowest level applied
                break
    assert [width for width, _, _ in analyser.retuned] == [128, 96, 64, 64, 64]  # the last two rest as well
    assert len(said) == 1
    assert not streamsee_threads()


@pytest.mark.parametrize("bad", [0, -1])
def test_a_live_stream_with_any_budget_still_draws_every_frame(bad):
    # The configuration refuses budgets <= 0; the Stream itself must still never lose a frame.
    with Stream(CountingSource(30, interval=0.002, live=True), SlowAnalyser(0.01), budget_ms=bad or 1e-9,
                notify=lambda line: None) as stream:
        assert [item.frame.index for item in stream] == list(range(30))
