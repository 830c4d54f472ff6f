"""--realtime: a file paced at its own frame rate stands in for a camera; a worker slower than
the source analyses the newest frame and skips the rest, never builds a backlog, and every frame is
still drawn and written (tests/test_budget.py has the rest of the budget). Also the statistics outputs."""

import json
import subprocess
import sys

import av
import pytest


def streamsee(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "streamsee.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_slow_worker_against_a_realtime_source(media, tmp_path):
    clip = media("negatives/snowboarder.mp4")  # 29.97 fps, 3 s, 718x718: faster than both paths with dlib
    with av.open(str(clip)) as container:
        source_frames = sum(1 for _ in container.decode(video=0))
    stats_path, rows_path, out = tmp_path / "stats.json", tmp_path / "rows.jsonl", tmp_path / "out.mp4"
    result = streamsee(clip, "--mode", "compare", "--proposals", "dlib", "--realtime", "--budget-ms", "50",
                       "--output", out, "--jsonl", rows_path, "--stats-json", stats_path)
    assert result.returncode == 0, result.stderr
    stats = json.loads(stats_path.read_text())
    assert stats["skipped"] > 0 and stats["dropped"] == 0  # never analysed, but drawn and written all the same
    assert stats["frames"] == source_frames
    assert stats["frames"] == stats["analysed"] + stats["skipped"]
    # A backlog of every frame would make the last one wait about 3 s x (analysis / frame time).
    assert stats["latency_max_ms"] < 2000
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    assert {row["analysed"] for row in rows} == ({True, False} if stats["skipped"] else {True})
    assert all(row["latency_ms"] > 0 for row in rows)
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == stats["frames"]


def test_files_without_realtime_lose_nothing(media, tmp_path):
    stats_path = tmp_path / "stats.json"
    result = streamsee(media("videos/dog.mp4"), "--mode", "segment", "--stats-json", stats_path)
    assert result.returncode == 0, result.stderr
    stats = json.loads(stats_path.read_text())
    assert stats["frames"] == stats["analysed"] == 32 and stats["dropped"] == stats["skipped"] == 0
    assert set(stats["stage_ms"]) >= {"analyse", "analyse segment"}
