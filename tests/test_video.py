"""Recorded video in, annotated video out: real clips, real codecs (PyAV/FFmpeg)."""

import json
import subprocess
import sys
from fractions import Fraction

import av
import pytest

pytestmark = pytest.mark.slow  # real media end to end


def streamsee(*args, cwd=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "streamsee.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def probe(path):
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video))
        return {"frames": frames, "rate": video.average_rate, "codec": video.codec_context.name,
                "duration": float(container.duration / av.time_base),
                "audio": [stream.codec_context.name for stream in container.streams.audio],
                "width": video.codec_context.width}


def test_annotated_video_keeps_frames_rate_duration_and_audio(media, tmp_path):
    clip = media("videos/car-detection.mp4")  # 768x432, 12.5 fps, 377 frames, AAC audio
    out = tmp_path / "annotated.mp4"
    result = streamsee(clip, "--mode", "segment", "--output", out)
    assert result.returncode == 0, result.stderr
    source, written = probe(clip), probe(out)
    assert written["frames"] == source["frames"] == 377
    assert written["rate"] == Fraction(25, 2)  # not rounded to 12 or 13
    assert written["codec"] == "h264" and written["audio"] == ["aac"]
    assert written["duration"] == pytest.approx(source["duration"], abs=0.2)


def test_compare_video_with_rows_and_masks(media, tmp_path):
    clip = media("videos/dog.mp4")  # 512x512, 10 fps, 32 frames
    out, rows, masks = tmp_path / "compare.mkv", tmp_path / "rows.jsonl", tmp_path / "masks"
    result = streamsee(clip, "--mode", "compare", "--output", out, "--jsonl", rows, "--save-masks", masks)
    assert result.returncode == 0, result.stderr
    written = probe(out)
    assert written["frames"] == 32 and written["width"] == 1024  # side by side
    lines = [json.loads(line) for line in rows.read_text().splitlines()]
    assert len(lines) == 64
    assert [row["frame"] for row in lines[::2]] == list(range(32))
    assert lines[2]["t"] == pytest.approx(0.1) and lines[2]["mode"] == "boxes" and lines[3]["mode"] == "segment"
    assert len(list(masks.glob("*.png"))) == 32


@pytest.mark.parametrize("clip", ["videos/car-turn.mp4", "videos/car-detection.mp4"])
def test_truncated_video_keeps_what_decoded(media, tmp_path, clip):
    broken = tmp_path / "broken.mp4"
    data = media(clip).read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    out, rows = tmp_path / "out.mp4", tmp_path / "rows.jsonl"
    result = streamsee(broken, "--mode", "segment", "--output", out, "--jsonl", rows)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]  # the summary, then the one-line error
    assert last.startswith("streamsee: error:") and "broken.mp4" in last and "Traceback" not in result.stderr
    written = probe(out)
    assert written["frames"] > 0 and written["frames"] == len(rows.read_text().splitlines())


@pytest.mark.parametrize("name, content, message", [
    ("missing.mp4", None, "missing.mp4"),
    ("notes.mp4", b"this is not a video", "notes.mp4"),
])
def test_bad_video_input_is_one_line(tmp_path, name, content, message):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    result = streamsee(tmp_path / name, "--output", tmp_path / "out.mp4")
    assert result.returncode == 2 and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_output_type_is_checked_before_work(media, tmp_path):
    result = streamsee(media("videos/dog.mp4"), "--output", tmp_path / "out.gif")
    assert result.returncode == 2 and "out.gif" in result.stderr


def test_a_signal_while_a_frame_is_written_loses_no_packet(tmp_path):
    """Ctrl-C landing between the encoder giving packets back and their muxing lost them: with x264's delay
    the first such packets hold the keyframe, and the finalised file decoded to nothing. The write now
    finishes, then the signal is delivered."""
    import os
    import signal
    import time

    import numpy as np

    from streamsee.video.sinks import VideoSink

    sink = VideoSink(tmp_path / "out.mp4", 10, (64, 48))
    encoder = sink.stream

    class InterruptedOnPackets:  # the stream, but a signal arrives as soon as encode() gives packets back
        def __getattr__(self, name):
            return getattr(encoder, name)

        def encode(self, frame):
            packets = encoder.encode(frame)
            if packets:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.1)  # the handler would have run by now
            return packets

    sink.stream = InterruptedOnPackets()
    rng, written = np.random.default_rng(0), 0
    with pytest.raises(KeyboardInterrupt):
        for index in range(60):
            sink.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), index / 10)
            written += 1
    sink.stream = encoder
    sink.close()
    assert 0 < written < 59
    with av.open(str(tmp_path / "out.mp4")) as container:  # every frame handed to the encoder, the last included
        assert sum(1 for _ in container.decode(video=0)) == written + 1
