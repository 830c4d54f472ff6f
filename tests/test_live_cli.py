"""The main job as users meet it on live input: a real network stream from an external ffmpeg
sender, and every failure a user will meet as one line and a non-zero exit."""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
from test_sources import SAMPLE, free_port, sender, udp_port_taken

ROOT = Path(__file__).resolve().parent.parent


def streamsee(*args, timeout=300, **kwargs):
    return subprocess.run([sys.executable, "-m", "streamsee.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kwargs)


def one_line_error(result, *words, code=2):
    assert result.returncode == code, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def run_on_udp(port: int, *args, seconds: float = 4, timeout: float = 120) -> tuple[int, str]:
    """`streamsee ARGS` run while ffmpeg sends the sample for `seconds` to udp://127.0.0.1:PORT (once streamsee
    listens: datagrams sent before are lost); its exit status and stderr."""
    reader = subprocess.Popen([sys.executable, "-m", "streamsee.cli", *map(str, args)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not udp_port_taken(port):
            assert reader.poll() is None and time.monotonic() < deadline, reader.communicate()[1]
            time.sleep(0.05)
        process = sender(f"udp://127.0.0.1:{port}", seconds)
        assert process.wait(timeout=30) == 0
        _, stderr = reader.communicate(timeout=timeout)
    finally:
        reader.kill()
    return reader.returncode, stderr


@pytest.mark.slow
def test_udp_stream_from_ffmpeg_to_annotated_video(tmp_path):
    port = free_port(socket.SOCK_DGRAM)
    out, stats = tmp_path / "out.mp4", tmp_path / "stats.json"
    code, stderr = run_on_udp(port, f"udp://127.0.0.1:{port}", "--mode", "segment", "--timeout", "3",
                              "--output", out, "--stats-json", stats)
    assert code == 0, stderr
    figures = json.loads(stats.read_text())
    assert figures["frames"] + figures["dropped"] >= 60  # about 100 sent in 4 s
    assert figures["latency_p95_ms"] < 1000
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == figures["frames"]


def test_camera_that_is_not_there():
    one_line_error(streamsee("--camera", "42", "--no-display"), "camera", "42")


@pytest.mark.slow
def test_unreachable_url_times_out():
    port = free_port(socket.SOCK_DGRAM)
    started = time.monotonic()
    one_line_error(streamsee(f"udp://127.0.0.1:{port}", "--timeout", "1", "--no-display"), f"udp://127.0.0.1:{port}")
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("content, words", [
    ("budget_ms = -3\n", ["budget_ms", "-3"]),
    ("colour = 'red'\n", ["colour"]),
    ("mode = \n", ["not valid TOML"]),
])
def test_bad_config(tmp_path, content, words):
    config = tmp_path / "mine.toml"
    config.write_text(content)
    one_line_error(streamsee(SAMPLE, "--config", config, "--no-display"), "mine.toml", *words)


def test_missing_config_names_the_presets():
    one_line_error(streamsee(SAMPLE, "--config", "turbo", "--no-display"), "turbo", "fast")


def test_preset_and_override(tmp_path):
    # the fast preset runs the FCN path alone; --mode overrides it (on the bundled photo: one frame is enough)
    stats = tmp_path / "stats.json"
    photo = ROOT / "streamsee" / "samples" / "chelsea.jpg"
    result = streamsee(photo, "--config", "fast", "--mode", "boxes", "--no-display", "--stats-json", stats)
    assert result.returncode == 0, result.stderr
    figures = json.loads(stats.read_text())
    assert figures["mode"] == "boxes" and set(figures["paths"]) == {"boxes"}
    assert figures["frames"] == 1


def test_unwritable_output_is_refused_before_any_work(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    one_line_error(streamsee(SAMPLE, "--no-display", "--output", blocked / "out.mp4"), "out.mp4")


def test_missing_and_corrupt_model_files(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model" * 20)
    one_line_error(streamsee("classify", "--model", bad, ROOT / "streamsee" / "samples" / "chelsea.jpg"), "bad.tflite")
    one_line_error(streamsee("classify", "--model", tmp_path / "gone.tflite", ROOT / "streamsee" / "samples" / "chelsea.jpg"),
                   "gone.tflite")


@pytest.mark.slow
def test_no_input_plays_the_bundled_sample(tmp_path):
    stats = tmp_path / "stats.json"
    result = streamsee("--mode", "compare", "--no-display", "--stats-json", stats)
    assert result.returncode == 0, result.stderr
    assert "bundled sample" in result.stderr
    figures = json.loads(stats.read_text())
    assert figures["frames"] == 150 and set(figures["paths"]) == {"boxes", "segment"}
    for path in figures["paths"].values():  # each path its own figures
        assert path["analysed"] == 150 and 0 < path["latency_p50_ms"] <= path["latency_max_ms"]
