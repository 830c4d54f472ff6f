"""Ctrl-C and SIGTERM in the middle of a run: a clean stop, and an output that plays and holds
every frame rendered so far."""

import signal
import subprocess
import sys
import time

import av
import pytest
from needs import hears_ctrl_c

pytestmark = pytest.mark.slow  # real-time runs interrupted


def rows_written(path):
    """Rows in the JSON lines file, or while the run goes on in its temporary name beside it."""
    files = [path] if path.exists() else list(path.parent.glob(f"{path.stem}.partial-*{path.suffix}"))
    return max((len(file.read_text().splitlines()) for file in files), default=0)


@pytest.mark.parametrize("signum, code, word", [(signal.SIGINT, 130, "interrupted"),
                                                (signal.SIGTERM, 143, "terminated")])
def test_a_signal_mid_run_finalises_the_output(media, tmp_path, signum, code, word):
    clip = media("videos/car-detection.mp4")  # 30 s at 12.5 fps, played in real time
    out, rows = tmp_path / "out.mp4", tmp_path / "rows.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "streamsee.cli", str(clip), "--mode", "segment", "--realtime",
                                "--no-display", "--output", str(out), "--jsonl", str(rows)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=hears_ctrl_c)
    try:
        deadline = time.monotonic() + 120
        while rows_written(rows) < 20 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        assert process.poll() is None, process.stderr.read()
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr and word in stderr.strip().splitlines()[-1]  # the summary, then one line
    assert "frames in" in stderr
    frames = rows_written(rows)
    assert 20 <= frames < 377
    with av.open(str(out)) as container:  # finalised: it opens, decodes, and holds every frame rendered
        decoded = sum(1 for _ in container.decode(video=0))
    assert frames <= decoded <= frames + 1  # the signal may land between writing a frame and its row
