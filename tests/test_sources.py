"""Sources on real media and real codecs: the bundled sample video, OpenCV capture, network streams
from a real ffmpeg sender over UDP and TCP, and the dispatch of open_source."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from streamsee.video import sources
from streamsee.video.sources import (
    SAMPLE_VIDEO,
    Camera,
    CameraError,
    Frame,
    ImageFiles,
    NetworkStream,
    Paced,
    StreamError,
    VideoFile,
    open_source,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "streamsee" / "samples" / "sample.mp4"
CHELSEA = ROOT / "streamsee" / "samples" / "chelsea.jpg"


def ffmpeg() -> str:
    """The ffmpeg executable; CI installs it, so there its absence is a failure."""
    path = shutil.which("ffmpeg")
    if path is None:
        message = "needs the ffmpeg command line tool (a real sender), which is not on PATH"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def udp_port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def in_thread(target, limit: float):
    """target() in a thread, its result or its error; fails (instead of hanging) past `limit` s."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = target()
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome, limit


def finish(started) -> object:
    thread, outcome, limit = started
    thread.join(timeout=limit)
    assert not thread.is_alive(), f"still blocked after {limit} s (a stalled read that no time-out ended)"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def sender(url: str, seconds: float, audio: bool = False) -> subprocess.Popen:
    """ffmpeg sending the sample at its own rate as MPEG-TS (H.264; with `audio`, a 440 Hz AAC tone)."""
    inputs = ["-re", "-i", str(SAMPLE)]
    if audio:
        inputs += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-map", "0:v", "-map", "1:a",
                   "-c:a", "aac"]
    return subprocess.Popen([ffmpeg(), "-hide_banner", "-loglevel", "error", *inputs, "-t", str(seconds),
                             "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "25",
                             "-f", "mpegts", url], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def check_frames(frames: list[Frame], size: tuple[int, int]) -> None:
    assert [frame.index for frame in frames] == list(range(len(frames)))
    for frame in frames:
        assert frame.image.dtype == np.uint8 and frame.image.shape == (size[1], size[0], 3)
    stamps = [frame.timestamp for frame in frames]
    assert all(b > a for a, b in zip(stamps, stamps[1:])), stamps
    captured = [frame.captured for frame in frames]
    assert all(b >= a for a, b in zip(captured, captured[1:]))


# ---------------------------------------------------------------- the bundled sample


def test_sample_video_is_640x480_h264_6s_at_25fps():
    assert SAMPLE == SAMPLE_VIDEO and SAMPLE.is_file(), "run python scripts/make_samples.py"
    assert SAMPLE.stat().st_size < 1_500_000
    with av.open(str(SAMPLE)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.average_rate == 25
        images = [frame.to_ndarray(format="bgr24") for frame in container.decode(stream)]
    assert 145 <= len(images) <= 155
    assert images[0].shape == (480, 640, 3)
    # it moves: a pan and zoom, not a still
    first, last = images[0].astype(np.int16), images[-1].astype(np.int16)
    assert np.abs(first - last).mean() > 10


# ---------------------------------------------------------------- Camera


@pytest.mark.parametrize("device, quoted", [(42, "index 42"), ("42", "index 42"), ("/dev/video97", "'/dev/video97'")])
def test_camera_that_is_not_there_raises_quickly_and_quietly(device, quoted, capfd):
    start = time.perf_counter()
    with pytest.raises(CameraError, match=f"no camera at {quoted}"):
        Camera(device)
    assert time.perf_counter() - start < 5
    assert issubclass(CameraError, OSError)
    assert capfd.readouterr().err == ""  # OpenCV's warnings kept off the user's terminal


def test_camera_reads_a_video_file_frame_by_frame():
    camera = Camera(str(SAMPLE))
    with camera:
        assert camera.live and camera.audio is None
        assert camera.size == (640, 480) and camera.rate == 25
        assert camera.time_base == Fraction(1, 90000)
        assert camera.description.startswith("camera ")
        frames = list(camera.frames())
    assert len(frames) == 150
    check_frames(frames, (640, 480))
    assert frames[0].timestamp == 0.0
    assert frames[-1].timestamp == pytest.approx(149 / 25, abs=1e-3)  # the file's clock (CAP_PROP_POS_MSEC)
    assert camera.error is None  # a file simply ends
    camera.close()  # twice: safe
    assert camera.closed


def test_camera_closed_mid_stream_stops_without_error():
    with Camera(str(SAMPLE)) as camera:
        frames = camera.frames()
        next(frames)
        camera.close()
        assert list(frames) == []
        assert camera.error is None


# ---------------------------------------------------------------- NetworkStream


def test_dead_udp_url_raises_stream_error_naming_url_and_timeout():
    url = f"udp://127.0.0.1:{free_port(socket.SOCK_DGRAM)}"
    start = time.perf_counter()
    with pytest.raises(StreamError, match=rf"no stream at '{url}' \(nothing received in 1 s\)"):
        NetworkStream(url, timeout=1.0)
    assert time.perf_counter() - start < 4
    assert issubclass(StreamError, ConnectionError)


def test_closed_tcp_port_raises_stream_error_at_once():
    url = f"tcp://127.0.0.1:{free_port(socket.SOCK_STREAM)}"
    start = time.perf_counter()
    with pytest.raises(StreamError, match=f"no stream at '{url}'"):
        NetworkStream(url, timeout=5.0)
    assert time.perf_counter() - start < 3


def test_password_is_kept_out_of_messages():
    url = f"rtsp://viewer:hunter2@127.0.0.1:{free_port(socket.SOCK_STREAM)}/live"
    with pytest.raises(StreamError) as raised:
        NetworkStream(url, timeout=2.0)
    assert "hunter2" not in str(raised.value) and "viewer:***@127.0.0.1" in str(raised.value)


@pytest.mark.slow
def test_udp_stream_from_a_real_sender_ends_by_itself_when_the_sender_stops():
    ffmpeg()
    port = free_port(socket.SOCK_DGRAM)
    url = f"udp://127.0.0.1:{port}"
    # the reader first: UDP datagrams sent before it listens are lost
    opening = in_thread(lambda: NetworkStream(url, timeout=2.0), limit=15)
    deadline = time.perf_counter() + 12  # a loaded machine (CI beside a training run) took over 5 s to open it
    while not udp_port_taken(port):
        assert time.perf_counter() < deadline, "the reader never bound its UDP port"
        time.sleep(0.02)
    process = sender(url, 3)
    try:
        stream = finish(opening)
        with stream:
            assert stream.live and stream.size == (640, 480)
            assert stream.rate == 25 and stream.time_base == Fraction(1, 90000)
            assert stream.description.startswith(url)
            reading = in_thread(lambda: [item for item in stream.frames()], limit=20)
            items = finish(reading)
            assert process.wait(timeout=10) == 0, process.stderr.read().decode(errors="replace")
            ended = time.perf_counter()
        frames = [item for item in items if isinstance(item, Frame)]
        assert 40 <= len(frames) <= 76, len(frames)  # about 75 sent
        check_frames(frames, (640, 480))
        assert stream.error is None  # a sender that stopped: the stream's end, not an error
        assert stream.closed
        stream.close()  # twice: safe
        assert ended  # the iteration ended by itself (finish() fails on a stalled read)
    finally:
        process.kill()
        process.wait()


@pytest.mark.slow
def test_tcp_stream_with_audio_ends_cleanly_and_copies_into_a_video(tmp_path):
    from streamsee.video.sinks import VideoSink

    ffmpeg()
    port = free_port(socket.SOCK_STREAM)
    url = f"tcp://127.0.0.1:{port}"
    process = sender(f"{url}?listen=1", 2, audio=True)
    try:
        deadline = time.perf_counter() + 10
        while True:  # retry until the sender listens
            try:
                stream = NetworkStream(url, timeout=3.0)
                break
            except StreamError:
                assert time.perf_counter() < deadline and process.poll() is None, "the TCP sender never listened"
                time.sleep(0.1)
        with stream:
            assert stream.audio is not None and stream.audio.type == "audio"
            start = time.perf_counter()
            items = finish(in_thread(lambda: list(stream.frames()), limit=20))
            waited = time.perf_counter() - start
            output = tmp_path / "copy.mp4"  # what the pipeline does with them
            with VideoSink(output, stream.rate, stream.size, stream.time_base, stream.audio) as sink:
                for item in items:
                    if isinstance(item, Frame):
                        sink.write(item.image, item.timestamp)
                    else:
                        sink.write_audio(item)
        assert process.wait(timeout=10) == 0, process.stderr.read().decode(errors="replace")
        frames = [item for item in items if isinstance(item, Frame)]
        packets = [item for item in items if not isinstance(item, Frame)]
        assert len(frames) >= 45  # TCP loses nothing: about 50 sent
        check_frames(frames, (640, 480))
        assert packets and all(isinstance(packet, av.Packet) and packet.dts is not None for packet in packets)
        assert stream.error is None
        assert waited < 2 + 2.5  # ended at the end of stream, not by the 3 s read time-out afterwards
        with av.open(str(output)) as copy:
            assert copy.streams.audio and copy.streams.video[0].codec_context.width == 640
            assert sum(1 for _ in copy.decode(video=0)) == len(frames)
    finally:
        process.kill()
        process.wait()


# ---------------------------------------------------------------- open_source and the shared attributes


def test_open_source_without_input_opens_the_bundled_sample():
    with open_source(None) as source:
        assert isinstance(source, VideoFile) and source.path == SAMPLE
        assert "bundled sample" in source.description and "samples/sample.mp4" in source.description
        assert source.size == (640, 480) and not source.live


def test_missing_sample_says_how_to_make_it(monkeypatch, tmp_path):
    monkeypatch.setattr(sources, "SAMPLE_VIDEO", tmp_path / "sample.mp4")
    with pytest.raises(FileNotFoundError, match="python scripts/make_samples.py"):
        open_source(None)


def test_open_source_dispatch(tmp_path):
    shutil.copy(CHELSEA, tmp_path / "b.jpg")
    shutil.copy(CHELSEA, tmp_path / "a.png")
    with open_source(tmp_path) as folder:
        assert isinstance(folder, ImageFiles) and folder.from_folder
        assert folder.size == (451, 300)
        assert [frame.index for frame in folder.frames()] == [0, 1]
    with open_source(str(CHELSEA)) as image:
        assert isinstance(image, ImageFiles) and not image.from_folder
    with open_source(str(SAMPLE)) as video:
        assert isinstance(video, VideoFile) and video.description == f"video {str(SAMPLE)!r} 640x480 at 25 fps"
    with pytest.raises(StreamError, match="udp://127.0.0.1"):
        open_source(f"udp://127.0.0.1:{free_port(socket.SOCK_DGRAM)}", timeout=1.0)
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        open_source("missing.mp4")
    with pytest.raises(CameraError, match="index 42"):
        open_source(None, camera=42)
    with open_source(None, camera=str(SAMPLE)) as camera:
        assert isinstance(camera, Camera)
    with pytest.raises(ValueError, match="not both"):
        open_source(str(SAMPLE), camera=0)


def test_every_source_has_the_same_public_attributes(tmp_path):
    opened = [VideoFile(SAMPLE), ImageFiles(CHELSEA), Camera(str(SAMPLE)), Paced(VideoFile(SAMPLE))]
    for source in opened:
        with source:
            assert isinstance(source.live, bool)
            assert isinstance(source.rate, Fraction) and source.rate > 0
            assert isinstance(source.size, tuple) and all(isinstance(side, int) and side > 0 for side in source.size)
            assert isinstance(source.time_base, Fraction) and source.time_base > 0
            assert source.audio is None
            assert source.error is None
            assert isinstance(source.description, str) and source.description
    assert opened[0].video.codec_context.width == 640  # VideoFile keeps its PyAV stream
    assert opened[1].size == (451, 300)
    assert opened[3].live and "paced" in opened[3].description
