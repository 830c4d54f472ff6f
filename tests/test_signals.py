"""Ctrl-C and SIGTERM in the middle of a run: a clean stop, and an output that plays and holds
every frame rendered so far."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
from needs import hears_ctrl_c

pytestmark = pytest.mark.slow  # real-time runs interrupted
ROOT = Path(__file__).resolve().parent.parent


def rows_written(path):
    """Rows in the JSON lines file, or while the run goes on in its temporary name beside it."""
    files = [path] if path.exists() else list(path.parent.glob(f"{path.stem}.partial-*{path.suffix}"))
    return max((len(file.read_text().splitlines()) for file in files), default=0)


def signal_mid_run(args: list, rows: list[Path], least: int, signum: int) -> tuple[int, str]:
    """`streamsee ARGS` (from the repository root), sent `signum` once every JSON lines file in `rows` holds
    `least` rows; its exit status and stderr."""
    process = subprocess.Popen([sys.executable, "-m", "streamsee.cli", *map(str, args)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=hears_ctrl_c)
    try:
        deadline = time.monotonic() + 120
        while min(map(rows_written, rows)) < least and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        assert process.poll() is None, process.stderr.read()
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    return process.returncode, stderr


@pytest.mark.parametrize("signum, code, word", [(signal.SIGINT, 130, "interrupted"),
                                                (signal.SIGTERM, 143, "terminated")])
def test_a_signal_mid_run_finalises_the_output(media, tmp_path, signum, code, word):
    clip = media("videos/car-detection.mp4")  # 30 s at 12.5 fps, played in real time
    out, rows = tmp_path / "out.mp4", tmp_path / "rows.jsonl"
    returncode, stderr = signal_mid_run([clip, "--mode", "segment", "--realtime", "--no-display", "--output", out,
                                         "--jsonl", rows], [rows], 20, signum)
    assert returncode == code, stderr
    assert "Traceback" not in stderr and word in stderr.strip().splitlines()[-1]  # the summary, then one line
    assert "frames in" in stderr
    frames = rows_written(rows)
    assert 20 <= frames < 377
    with av.open(str(out)) as container:  # finalised: it opens, decodes, and holds every frame rendered
        decoded = sum(1 for _ in container.decode(video=0))
    assert frames <= decoded <= frames + 1  # the signal may land between writing a frame and its row


@pytest.mark.parametrize("signum, code, word", [(signal.SIGINT, 130, "interrupted"),
                                                (signal.SIGTERM, 143, "terminated")])
def test_a_signal_ends_every_source_of_a_run_each_finalised(media, tmp_path, signum, code, word):
    clip = media("videos/car-detection.mp4")
    out, rows = tmp_path / "out", tmp_path / "rows"
    names = ("car-detection", "sample")
    returncode, stderr = signal_mid_run([clip, "streamsee/samples/sample.mp4", "--mode", "segment", "--realtime",
                                         "--no-display", "--output", out, "--jsonl", rows, "--stats-json",
                                         tmp_path / "stats.json", "--budget-ms", "60000"],
                                        [rows / f"{name}.jsonl" for name in names], 10, signum)
    assert returncode == code, stderr
    said = [line for line in stderr.splitlines() if line.startswith("streamsee: ")]
    assert len(said) == 1 and word in said[0] and said == stderr.strip().splitlines()[-1:], stderr
    assert stderr.count("frames in") == 2  # each source's summary
    figures = json.loads((tmp_path / "stats.json").read_text())["sources"]
    for name in names:
        frames = rows_written(rows / f"{name}.jsonl")
        assert 10 <= frames <= figures[name]["frames"]  # frames captured: a few may not have been drawn
        with av.open(str(out / f"{name}.mp4")) as container:
            assert frames <= sum(1 for _ in container.decode(video=0)) <= frames + 1
