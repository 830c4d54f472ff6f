"""Network sources and cameras as users meet them (issue 29): a real RTSP server (Debian's GStreamer RTSP
server, tests/rtsp_server.py, run with the system Python) that goes away mid-stream and comes back, RTSP over
UDP and over TCP, credentials kept out of every message and file, an http:// file read losslessly unless
--live, and the parts behind them (backoff, a camera that disappears, the HUD's status line) on their own."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from needs import need
from test_sources import ffmpeg, free_port

from streamsee.core.config import ConfigError, RunConfig, load_config
from streamsee.video import capture, reconnect
from streamsee.video.capture import RTSP_TRANSPORTS, Camera, NetworkStream, StreamError
from streamsee.video.frame import Frame
from streamsee.video.reconnect import Notice, reconnecting
from streamsee.video.urls import redact

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "tests" / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"
PACKAGES = "gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
USER, PASSWORD = "viewer", "hunter2"


# ---------------------------------------------------------------- helpers


def make_clip(path: Path, seconds: float) -> Path:
    """A real H.264 MP4, 160x120 at 25 fps, a key frame every second (made with Debian's ffmpeg)."""
    subprocess.run([ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=160x120:rate=25:duration={seconds}",
                    "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", str(path)], check=True, timeout=60)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {seconds: make_clip(folder / f"clip{seconds}.mp4", seconds) for seconds in (2, 3, 10)}


@pytest.fixture(scope="module")
def rtsp_server_available() -> None:
    """The GStreamer RTSP server for the system Python: installed by .ci/run; missing, skip (fail in CI)."""
    probe = ("import gi; gi.require_version('GstRtspServer', '1.0'); gi.require_version('GstRtsp', '1.0'); "
             "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
             "assert all(Gst.ElementFactory.find(e) for e in ('qtdemux', 'h264parse', 'rtph264pay'))")
    try:
        ok = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        need(f"needs Debian's GStreamer RTSP server for {SYSTEM_PYTHON} (apt-get install {PACKAGES})")


def start_server(clip: Path, port: int, *options: str) -> subprocess.Popen:
    """tests/rtsp_server.py serving `clip` on 127.0.0.1:port, once it says it listens."""
    server = subprocess.Popen([SYSTEM_PYTHON, str(SERVER), str(clip), str(port), *options], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    ready: list[str] = []
    reader = threading.Thread(target=lambda: ready.append(server.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=15)
    if not ready or not ready[0].startswith("ready"):
        server.kill()
        pytest.fail(f"the RTSP server did not start: {server.communicate()[1]}")
    return server


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def streamsee(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "streamsee.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_rows(folder: Path, count: int, process: subprocess.Popen, limit: float = 40) -> None:
    """Until the run's JSONL (still under its partial name) holds `count` rows: frames are flowing."""
    deadline = time.monotonic() + limit
    while True:
        rows = sum(len(path.read_text().splitlines()) for path in folder.glob("rows.partial-*.jsonl"))
        if rows >= count:
            return
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1]
        time.sleep(0.05)


def video_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [frame.time for frame in container.decode(video=0)]


# ---------------------------------------------------------------- credentials, backoff, HUD: no server


@pytest.mark.parametrize("url, shown", [
    ("rtsp://viewer:hunter2@cam.local:554/live", "rtsp://viewer:***@cam.local:554/live"),
    ("rtsp://viewer:hun@ter2@cam.local/live?x=1", "rtsp://viewer:***@cam.local/live?x=1"),
    ("rtsp://viewer@cam.local/live", "rtsp://viewer@cam.local/live"),
    ("http://cam.local/video.cgi?user=admin&password=hunter2&fps=5", "http://cam.local/video.cgi?user=admin&password=***&fps=5"),
    ("https://cdn.example/clip.mp4?token=hunter2#t=3", "https://cdn.example/clip.mp4?token=***#t=3"),
    ("rtsp://viewer:hunter2@[::1/live", "rtsp://viewer:***@[::1/live"),  # not even a valid URL
    ("clip.mp4", "clip.mp4"),
])
def test_redact_masks_passwords_and_secret_parameters(url, shown):
    assert redact(url) == shown


def test_camera_name_keeps_the_password_out(monkeypatch):
    class Closed:
        def __init__(self, *args):
            pass

        def isOpened(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr(capture.cv2, "VideoCapture", Closed)
    with pytest.raises(capture.CameraError) as raised:
        Camera("rtsp://viewer:hunter2@cam.local/live")
    assert "hunter2" not in str(raised.value) and "viewer:***@cam.local" in str(raised.value)


def test_reconnecting_backs_off_then_gives_up_within_its_window():
    tries: list[float] = []

    def refuse():
        tries.append(time.perf_counter())
        raise StreamError("connection refused")

    started = time.perf_counter()
    notices: list[Notice] = []
    steps = reconnecting("stream 'x'", "closed", 12, 1.2, started, refuse, threading.Event())
    with pytest.raises(StopIteration) as returned:
        while True:
            notices.append(next(steps))
    assert returned.value.value is None  # given up
    assert notices[0].state == "lost" and "lost after 12 frames (closed)" in notices[0].text
    assert {notice.state for notice in notices[1:]} == {"waiting"}
    gaps = [b - a for a, b in zip(tries, tries[1:])]
    assert len(tries) == 3 and 0.45 < gaps[0] < 0.7 and gaps[1] < 0.9  # at once, after 0.5 s, at the window's end
    assert 1.1 < time.perf_counter() - started < 1.6


def test_reconnecting_returns_the_connection_when_it_is_back():
    answers = iter([OSError("down"), ValueError("no video"), "connection"])

    def connect():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    steps = reconnecting("camera 0", "no frame", 3, 30, time.perf_counter(), connect, threading.Event())
    notices: list[Notice] = []
    with pytest.raises(StopIteration) as returned:
        while True:
            notices.append(next(steps))
    assert returned.value.value == "connection"
    assert notices[-1].state == "back" and "3 attempts" in notices[-1].text and notices[-1].attempt == 3
    assert [delay for delay, _ in zip(reconnect.delays(), range(6))] == [0.5, 1, 2, 4, 5, 5]


class FakeDevice:
    """cv2.VideoCapture for a camera that delivers `frames` frames, then disappears for `away` opens."""

    plan = {"frames": 4, "away": 2, "opens": 0}

    def __init__(self, device, api):
        FakeDevice.plan["opens"] += 1
        self.opened = FakeDevice.plan["opens"] == 1 or FakeDevice.plan["opens"] > 1 + FakeDevice.plan["away"]
        self.left = FakeDevice.plan["frames"]

    def isOpened(self):
        return self.opened

    def set(self, *args):
        return False

    def get(self, prop):
        return {capture.cv2.CAP_PROP_FRAME_WIDTH: 32, capture.cv2.CAP_PROP_FRAME_HEIGHT: 24,
                capture.cv2.CAP_PROP_FPS: 50}.get(prop, 0.0)

    def grab(self):
        self.left -= 1
        time.sleep(0.02)
        return self.left >= 0

    def retrieve(self):
        return True, np.full((24, 32, 3), 7, np.uint8)

    def release(self):
        self.opened = False


@pytest.mark.parametrize("window", [30, 0])
def test_a_camera_that_disappears_is_reconnected_and_its_times_run_on(monkeypatch, window):
    FakeDevice.plan.update(frames=4, away=2, opens=0)
    monkeypatch.setattr(capture.cv2, "VideoCapture", FakeDevice)
    with Camera(0, reconnect=window) as camera:
        assert camera.live and camera.rate == Fraction(50)
        items = []
        for item in camera.frames():
            items.append(item)
            if sum(isinstance(i, Frame) for i in items) == 8:
                break
    frames = [item for item in items if isinstance(item, Frame)]
    if window == 0:
        assert len(frames) == 4 and camera.error == "camera 0 stopped delivering frames after 4 frames"
        return
    states = [item.state for item in items if isinstance(item, Notice)]
    assert states[0] == "lost" and states[-1] == "back" and FakeDevice.plan["opens"] == 4
    assert [frame.index for frame in frames] == list(range(8)) and camera.error is None
    stamps = [frame.timestamp for frame in frames]
    assert all(b > a for a, b in zip(stamps, stamps[1:]))
    assert stamps[4] - stamps[3] > 1.0  # the gap: tries at once, after 0.5 and after 1 s more


def test_hud_draws_the_status_line():
    from streamsee.core.snapshot import Snapshot
    from streamsee.render.drawing import HudAnnotator

    frame = np.zeros((120, 160, 3), np.uint8)
    snapshot = Snapshot(25, 10, 80, 120, 150, {"analyse": 40}, 10, 9, 1, 0)
    hud = HudAnnotator()
    plain, with_status = hud.annotate(frame, snapshot), hud.annotate(frame, snapshot, "source lost: reconnecting")
    assert (plain != with_status).any() and (with_status[..., 2] > with_status[..., 0] + 100).any()  # a red tag
    assert (hud.status_only(frame, "x") != frame).any() and not frame.any()  # a copy: the input is untouched


def test_source_news_says_lost_and_back_once_each_and_records_the_gap():
    from streamsee.live.pipeline import SourceNews

    lines: list[str] = []
    news = SourceNews(lines.append, started=100.0)
    news.hear(Notice("lost", "stream 'rtsp://u:***@h/x' lost after 5 frames (closed)", 5, 101.0))
    for second in (101.5, 102.0):
        news.hear(Notice("waiting", "source lost 1 s ago: reconnecting (attempt 2 in 0 s)", 5, second, 1))
    assert news.line().startswith("source lost")
    news.hear(Notice("back", "stream 'rtsp://u:***@h/x' back after 2.5 s (3 attempts)", 5, 103.5, 3))
    assert lines == ["stream 'rtsp://u:***@h/x' lost after 5 frames (closed)",
                     "stream 'rtsp://u:***@h/x' back after 2.5 s (3 attempts)"]
    assert news.gaps == [{"frames_before": 5, "lost_at_s": 1.0, "back_at_s": 3.5}]
    assert news.line() is None  # shown for a few seconds after it is back, and this is long after


def test_network_settings_in_the_config_and_their_errors(tmp_path):
    assert RunConfig().live is None and RunConfig().rtsp_transport == "tcp" and RunConfig().reconnect_s == 30.0
    assert RTSP_TRANSPORTS == capture.RTSP_TRANSPORTS == ("tcp", "udp", "auto")
    path = tmp_path / "net.toml"
    path.write_text('live = false\nrtsp_transport = "udp"\nreconnect_s = 0\n')
    config = load_config(path)
    assert config.live is False and config.rtsp_transport == "udp" and config.reconnect_s == 0.0
    assert config.replace(live=None).live is False  # a flag not given leaves the preset's
    for text, words in (('rtsp_transport = "quic"', ["rtsp_transport", "'quic'"]), ("reconnect_s = -1", ["-1"]),
                        ('live = "yes"', ["live", "'yes'"])):
        path.write_text(text + "\n")
        with pytest.raises(ConfigError) as raised:
            load_config(path)
        assert all(word in str(raised.value) for word in words)


def test_bad_network_flags_are_one_line(capsys):
    from streamsee.cli import main

    assert main(["rtsp://viewer:hunter2@127.0.0.1:9/live", "--reconnect", "-5", "--no-display"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "reconnect_s" in err and "-5" in err and "hunter2" not in err
    with pytest.raises(SystemExit):
        main(["--rtsp-transport", "quic"])
    assert "quic" in capsys.readouterr().err


# ---------------------------------------------------------------- a real RTSP server


@pytest.mark.slow
def test_rtsp_over_udp_and_over_tcp(rtsp_server_available, clips):
    for only, works, refused in (("udp", ("udp", "auto"), "tcp"), ("tcp", ("tcp", "auto"), "udp")):
        port = free_port(socket.SOCK_STREAM)
        server = start_server(clips[3], port, "--only", only)
        url = f"rtsp://127.0.0.1:{port}/clip"
        try:
            for transport in works:
                with NetworkStream(url, timeout=3, transport=transport, reconnect=5) as stream:
                    assert stream.live and stream.size == (160, 120) and stream.reconnect == 5
                    frames = []
                    for item in stream.frames():
                        frames.append(item)
                        if len(frames) == 10:
                            break
                    assert all(isinstance(item, Frame) for item in frames), (only, transport)
            with pytest.raises(StreamError) as raised:
                NetworkStream(url, timeout=3, transport=refused)
            if refused == "tcp":
                assert "--rtsp-transport udp or auto" in str(raised.value)
        finally:
            stop(server)


@pytest.mark.slow
def test_rtsp_drop_and_return_continues_into_the_same_output(rtsp_server_available, clips, tmp_path):
    port = free_port(socket.SOCK_STREAM)
    url = f"rtsp://{USER}:{PASSWORD}@127.0.0.1:{port}/clip"
    credentials = ("--user", USER, "--password", PASSWORD)
    out, rows, stats = tmp_path / "out.mp4", tmp_path / "rows.jsonl", tmp_path / "stats.json"
    server = start_server(clips[10], port, *credentials)
    run = streamsee(url, "--mode", "segment", "--no-display", "--timeout", "3", "--reconnect", "10",
                    "--output", out, "--jsonl", rows, "--stats-json", stats)
    try:
        wait_for_rows(tmp_path, 5, run)
        dropped = time.monotonic()
        stop(server)  # killed mid-stream
        time.sleep(2)
        server = start_server(clips[10], port, *credentials)
        returned = time.monotonic()
        _, stderr = run.communicate(timeout=60)
    finally:
        stop(server)
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, stderr  # the second connection played the clip to its end
    lines = [line for line in stderr.splitlines() if line.startswith("streamsee: stream")]
    assert len(lines) == 2 and "lost after" in lines[0] and "reconnecting" in lines[0] and "back after" in lines[1]
    assert f"{USER}:***@127.0.0.1" in lines[0] and "Traceback" not in stderr
    figures = json.loads(stats.read_text())
    gap = figures["gaps"][0]
    assert len(figures["gaps"]) == 1 and gap["back_at_s"] - gap["lost_at_s"] >= 1.5
    times = video_times(out)  # one playable output: frames from before the gap and after it
    assert len(times) == figures["frames"] == len(rows.read_text().splitlines())
    jumps = [b - a for a, b in zip(times, times[1:])]
    where = max(range(len(jumps)), key=jumps.__getitem__)
    assert jumps[where] >= 1.5 and where + 1 >= 3 and len(times) - where - 1 >= 10
    assert all(jump > 0 for jump in jumps)
    for text in (stderr, stats.read_text(), rows.read_text()):
        assert PASSWORD not in text
    print(f"\ndrop at {dropped - dropped:.1f} s, server back at {returned - dropped:.1f} s, stream back after "
          f"{gap['back_at_s'] - gap['lost_at_s']:.1f} s; output gap {jumps[where]:.2f} s after {where + 1} frames, "
          f"{len(times) - where - 1} after; dropped by the live policy {figures['dropped']}")


@pytest.mark.slow
def test_credentials_stay_out_of_every_failure(rtsp_server_available, clips, tmp_path):
    port = free_port(socket.SOCK_STREAM)
    server = start_server(clips[10], port, "--user", USER, "--password", PASSWORD)
    try:
        wrong = subprocess.run([sys.executable, "-m", "streamsee.cli", f"rtsp://{USER}:wrongpass@127.0.0.1:{port}/clip",
                                "--no-display", "--timeout", "3"], capture_output=True, text=True, timeout=60)
        assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1, wrong.stderr
        assert "wrongpass" not in wrong.stderr and f"{USER}:***@" in wrong.stderr and "401" in wrong.stderr
        stats, rows = tmp_path / "stats.json", tmp_path / "rows.jsonl"
        run = streamsee(f"rtsp://{USER}:{PASSWORD}@127.0.0.1:{port}/clip", "--no-display", "--timeout", "2",
                        "--reconnect", "1", "--jsonl", rows, "--stats-json", stats)
        wait_for_rows(tmp_path, 3, run)
        stop(server)  # gone for good: lost, tried for a second, given up
        _, stderr = run.communicate(timeout=60)
    finally:
        stop(server)
    assert run.returncode == 2, stderr
    assert stderr.splitlines()[-1].startswith("streamsee: error: stream") and "not back within 1 s" in stderr
    assert f"{USER}:***@127.0.0.1" in stderr.splitlines()[-1] and "Traceback" not in stderr
    figures = json.loads(stats.read_text())
    assert figures["frames"] >= 3 and figures["gaps"][0]["back_at_s"] is None and "not back" in figures["ended"]
    for text in (stderr, stats.read_text(), rows.read_text()):
        assert PASSWORD not in text


# ---------------------------------------------------------------- http://: a file, read losslessly


@pytest.mark.slow
def test_http_file_is_read_losslessly_unless_live(clips, tmp_path):
    port = free_port(socket.SOCK_STREAM)
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(clips[2].parent)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/{clips[2].name}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with NetworkStream(url, timeout=2) as stream:
                    assert not stream.live and stream.reconnect == 0  # a file: every frame, nothing to reconnect
                break
            except StreamError:
                assert time.monotonic() < deadline, "the HTTP server never answered"
                time.sleep(0.1)
        results = {}
        for flag in (None, "--live"):
            stats = tmp_path / f"{flag}.json"
            args = [url, "--no-display", "--stats-json", stats, "--budget-ms", "1"] + ([flag] if flag else [])
            result = subprocess.run([sys.executable, "-m", "streamsee.cli", *map(str, args)], capture_output=True,
                                    text=True, timeout=60)
            assert result.returncode == 0, result.stderr
            results[flag] = json.loads(stats.read_text())
    finally:
        server.send_signal(signal.SIGTERM)
        stop(server)
    figures = results[None]  # the default: every frame analysed, in order, none dropped or skipped
    assert (figures["frames"], figures["analysed"], figures["dropped"], figures["skipped"]) == (50, 50, 0, 0)
    live = results["--live"]  # live: dropped and skipped to keep up (allowed, not required), nothing else lost
    assert live["frames"] + live["dropped"] == 50 and live["analysed"] + live["skipped"] == live["frames"]


def test_a_slow_try_keeps_the_notices_coming_and_a_stop_mid_try_closes_its_late_connection():
    # A server that does not answer holds a try for the source's time-out: the window and the HUD are
    # fed by the Notices, so they must keep coming while the try is under way.
    class Connection:
        closed = False

        def close(self):
            self.closed = True

    slow = Connection()

    def connect():
        time.sleep(1.0)
        return slow

    heard: list[Notice] = []
    steps = reconnecting("stream 'x'", "closed", 5, 30, time.perf_counter(), connect, threading.Event())
    with pytest.raises(StopIteration) as returned:
        while True:
            heard.append(next(steps))
    assert returned.value.value is slow and not slow.closed
    during = [notice for notice in heard if "under way" in notice.text]
    assert len(during) >= 3 and heard[-1].state == "back"
    assert max(b.at - a.at for a, b in zip(heard, heard[1:])) < 0.5

    late, closing = Connection(), threading.Event()

    def hanging():
        time.sleep(0.6)
        return late

    steps = reconnecting("stream 'x'", "closed", 5, 30, time.perf_counter(), hanging, closing)
    assert next(steps).state == "lost" and next(steps).state == "waiting"
    closing.set()
    started = time.perf_counter()
    with pytest.raises(StopIteration) as returned:
        next(steps)
    assert returned.value.value is None and time.perf_counter() - started < 0.5  # not held by the try
    time.sleep(0.8)
    assert late.closed  # opened after the stop: closed, not leaked
