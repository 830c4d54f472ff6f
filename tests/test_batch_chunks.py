"""Long videos in chunks (`streamsee batch --chunk-seconds`): where a video is cut (on its own, no Ray),
a part of a video file read on its own, chunks joined back without a model, and a real local Ray
instance with two workers running a clip in three chunks against the same clip whole."""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import pytest
from needs import need

from streamsee.batch.chunks import Assembly, cut_times, join_video, keyframe_cuts, split
from streamsee.batch.inputs import fingerprint, plan
from streamsee.batch.worker import Outcome
from streamsee.cli import main
from streamsee.video.sinks import VideoSink
from streamsee.video.sources import Frame, VideoFile

RATE, GOP = 10, 10  # frames a second; a keyframe every GOP frames (ffmpeg -g)


def make_clip(path: Path, seconds: float = 4.0, gop: int = GOP, audio: bool = True, options: tuple = ()) -> Path:
    """A 160x120 clip at RATE fps with a keyframe every `gop` frames (and no others), a sine tone beside."""
    if shutil.which("ffmpeg") is None:
        need("needs ffmpeg (apt-get install ffmpeg) to make the clips")
    path.parent.mkdir(parents=True, exist_ok=True)
    sound = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"] if audio else []
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size=160x120:rate={RATE}",
                    *sound, "-t", str(seconds), "-g", str(gop), "-sc_threshold", "0", "-pix_fmt", "yuv420p",
                    *options, str(path)], check=True, timeout=60)
    return path


def keyframes(path: Path) -> list[Fraction]:
    """Every keyframe's time, from all the packets (the tests' own reference)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [packet.pts * stream.time_base for packet in container.demux(stream)
                if packet.is_keyframe and packet.pts is not None]


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [round(frame.time, 4) for frame in container.decode(video=0)]


def audio_packets(path: Path) -> list[tuple[int, int]]:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return []
        return [(packet.pts, packet.size) for packet in container.demux(audio=0) if packet.size]


def read(source: VideoFile) -> list[Frame]:
    with source:
        return [item for item in source.frames() if isinstance(item, Frame)]


# --- where to cut, on its own -------------------------------------------------------------------------

def test_cut_times_make_even_chunks_of_at_least_the_length_asked():
    assert cut_times(Fraction(0), Fraction(10), 3) == [Fraction(10, 3), Fraction(20, 3)]  # 3 chunks of 3.33 s
    assert cut_times(Fraction(0), Fraction(6), 3) == [Fraction(3)]
    assert cut_times(Fraction(0), Fraction(59, 10), 3) == []  # shorter than twice the length: whole
    assert cut_times(Fraction(3, 2), Fraction(6), 3) == [Fraction(9, 2)]  # from the first frame's time
    assert cut_times(Fraction(0), Fraction(600), 0) == []  # chunks off


def test_cuts_fall_on_keyframes_at_or_after_the_times_asked(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", seconds=6, gop=7, audio=False)  # keyframes at 0, 0.7, 1.4, ...
    listed = keyframes(clip)
    cuts = keyframe_cuts(str(clip), 2)  # asked for 2 and 4 s
    assert cuts == [Fraction(21, 10), Fraction(42, 10)] and set(cuts) <= set(listed)
    assert keyframe_cuts(str(clip), 3.01) == []  # under two chunks' worth
    assert keyframe_cuts(str(tmp_path / "missing.mp4"), 2) == []  # processed whole; the worker says why


# --- a part of a video file -----------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".mp4", ".ts"])  # an indexed container, and one whose seeks only estimate
def test_parts_of_a_video_hold_each_frame_once_in_order(tmp_path, suffix):
    clip = make_clip(tmp_path / f"clip{suffix}", seconds=4)
    whole = read(VideoFile(clip))
    first = Fraction(whole[0].timestamp).limit_denominator(1000)
    cuts = [first + 2, first + Fraction(13, 5)]  # a keyframe, and a time between keyframes
    bounds = [None, *cuts, None]
    parts = [VideoFile(clip, start, end) for start, end in zip(bounds, bounds[1:])]
    assert all(part.audio is None for part in parts) and VideoFile(clip).audio is not None
    frames = [read(part) for part in parts]
    assert [[frame.index for frame in part] for part in frames] == [list(range(len(part))) for part in frames]
    assert [frame.timestamp for part in frames for frame in part] == [frame.timestamp for frame in whole]
    assert [len(part) for part in frames] == [20, 6, 14]
    assert all(part.error is None and part.damage == {"packets": 0, "frames_lost": 0} for part in parts)


def test_a_part_of_a_truncated_video_says_so(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", seconds=4, audio=False, options=("-movflags", "+faststart"))
    with av.open(str(clip)) as container:
        cut = [packet.pos for packet in container.demux(video=0) if packet.pts is not None][35]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clip.read_bytes()[:cut])
    tail = VideoFile(broken, start=3)
    assert len(read(tail)) < 10 and "its index lists from 3 s (truncated?)" in tail.error
    middle = VideoFile(broken, start=2, end=Fraction(39, 10))  # the frame at 3.9 s was cut off
    assert len(read(middle)) < 19 and "ends before 3.9 s, the end of the part (truncated?)" in middle.error
    whole_middle = VideoFile(clip, start=2, end=Fraction(39, 10))
    assert len(read(whole_middle)) == 19 and whole_middle.error is None
    assert read(VideoFile(broken, end=3)) and VideoFile(broken, end=3).error is None
    with pytest.raises(ValueError, match="an empty part"):
        VideoFile(clip, start=2, end=2)


# --- joined without a model ----------------------------------------------------------------------------

def copy(source: VideoFile, output: Path) -> None:
    """Every frame of `source` into `output` as the pipeline writes it (VideoSink), audio passed through."""
    with source, VideoSink(output, source.rate, source.size, source.time_base, source.audio) as sink:
        for item in source.frames():
            if isinstance(item, Frame):
                sink.write(item.image, item.timestamp)
            else:
                sink.write_audio(item)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_joined_chunks_play_as_the_whole_video_with_its_audio(tmp_path, suffix):
    clip = make_clip(tmp_path / f"clip{suffix}", seconds=4)
    cuts = keyframe_cuts(str(clip), 1.3)
    assert len(cuts) == 2
    bounds = [None, *cuts, None]
    parts = []
    for index, (start, end) in enumerate(zip(bounds, bounds[1:])):
        parts.append(tmp_path / f"part{index}{suffix}")
        copy(VideoFile(clip, start, end), parts[-1])
    copy(VideoFile(clip), tmp_path / f"whole{suffix}")
    joined = tmp_path / f"joined{suffix}"
    join_video([str(part) for part in parts], str(clip), str(joined), True, pytest.fail)
    times = frame_times(joined)
    assert len(times) == 40 and times == sorted(times) and times == frame_times(tmp_path / f"whole{suffix}")
    assert audio_packets(joined) == audio_packets(tmp_path / f"whole{suffix}") == audio_packets(clip)
    assert not list(tmp_path.glob("*.partial-*"))


def test_a_chunk_that_would_overlap_the_one_before_is_moved_on(tmp_path):
    """The safety net for an encoder's delay: a chunk starting before the previous one ends (here the same
    chunk twice) is moved on, so the decoding times still increase and every frame plays."""
    clip = make_clip(tmp_path / "clip.mp4", seconds=1, audio=False)
    part = tmp_path / "part.mp4"
    copy(VideoFile(clip), part)
    joined = tmp_path / "joined.mp4"
    join_video([str(part), str(part)], str(clip), str(joined), True, pytest.fail)
    with av.open(str(joined)) as container:
        ticks = [packet.dts for packet in container.demux(video=0) if packet.size]
    assert len(ticks) == 20 and ticks == sorted(set(ticks))
    times = frame_times(joined)
    assert len(times) == 20 and times == sorted(set(times))


def test_an_assembly_joins_rows_and_masks_in_order_and_marks_the_input_done(tmp_path):
    clip = make_clip(tmp_path / "in" / "clip.mp4", seconds=4, audio=False)
    [job] = plan([str(clip)], tmp_path / "out", video=False)
    (tmp_path / "out").mkdir()
    assembly = Assembly(job, split(job, [Fraction(2), Fraction(3)]), before=fingerprint(job.input))
    counts = [20, 10, 10]
    for chunk, count in zip(assembly.chunks, counts):
        first = float(chunk.start or 0)
        Path(chunk.jsonl).write_text("".join(json.dumps({"frame": index, "t": round(first + index / 10, 6)}) + "\n"
                                             for index in range(count)))
        Path(chunk.masks).mkdir()
        for index in range(count):
            (Path(chunk.masks) / f"{index:06d}.png").write_bytes(b"png")
        assembly.add(chunk, Outcome(chunk.name, chunk.input, "done", frames=count, worker=f"w{count}"))
    assert assembly.complete
    outcome = assembly.finish({"mode": "test"})
    assert (outcome.status, outcome.frames, outcome.chunks, outcome.worker) == ("done", 40, 3, "w20, w10")
    rows = [json.loads(line) for line in Path(job.jsonl).read_text().splitlines()]
    assert [row["frame"] for row in rows] == list(range(40))
    assert [row["t"] for row in rows] == [round(index / 10, 6) for index in range(40)]
    assert sorted(path.name for path in Path(job.masks).iterdir()) == [f"{index:06d}.png" for index in range(40)]
    assert json.loads(Path(job.done).read_text())["frames"] == 40
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["clip.mp4.done.json", "clip.mp4.jsonl",
                                                                          "clip.mp4.masks"]


def test_a_failed_chunk_fails_its_input_and_keeps_what_came_before(tmp_path):
    clip = make_clip(tmp_path / "in" / "clip.mp4", seconds=4, audio=False)
    [job] = plan([str(clip)], tmp_path / "out", video=False, masks=False)
    (tmp_path / "out").mkdir()
    assembly = Assembly(job, split(job, [Fraction(2), Fraction(3)]), before={})
    first, second, third = assembly.chunks
    Path(first.jsonl).write_text("".join(json.dumps({"frame": index}) + "\n" for index in range(20)))
    Path(second.jsonl).write_text("".join(json.dumps({"frame": index}) + "\n" for index in range(4)))
    assembly.add(first, Outcome(first.name, job.input, "done", frames=20))
    assembly.add(second, Outcome(second.name, job.input, "failed", frames=4, reason="it broke"))
    assembly.add(third, Outcome(third.name, job.input, "not started"))
    outcome = assembly.finish({})
    assert (outcome.status, outcome.reason, outcome.frames) == ("failed", "chunk 2 of 3: it broke", 24)
    assert [json.loads(line)["frame"] for line in Path(job.jsonl).read_text().splitlines()] == list(range(24))
    assert not Path(job.done).exists() and not list((tmp_path / "out").glob("*.partial-*"))


# --- a real local Ray instance ----------------------------------------------------------------------------

def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_two_ray_workers_process_a_video_in_chunks_as_one_does_it_whole(ray_instance, tmp_path, capsys):
    inputs, chunked, whole = tmp_path / "in", tmp_path / "chunked", tmp_path / "whole"
    clip = make_clip(inputs / "long.mp4", seconds=4)  # 40 frames, keyframes every 1 s
    truncated = make_clip(tmp_path / "truncated.mp4", seconds=4, audio=False, options=("-movflags", "+faststart"))
    with av.open(str(truncated)) as container:
        cut = [packet.pos for packet in container.demux(video=0) if packet.pts is not None][35]
    (inputs / "truncated.mp4").write_bytes(truncated.read_bytes()[:cut])  # its last chunk ends early
    summary = tmp_path / "summary.json"

    assert main(["batch", str(clip), "--out", str(whole), "--mode", "segment", "--chunk-seconds", "0"]) == 0
    command = ["batch", str(inputs), "--out", str(chunked), "--mode", "segment", "--workers", "2",
               "--chunk-seconds", "1.3", "--json", str(summary)]
    assert main(command) == 2  # the truncated input failed; the long one was joined
    err = capsys.readouterr().err
    assert "Traceback" not in err and "streamsee: error: 'truncated.mp4': chunk 3 of 3: " in err, err
    report = {row["name"]: row for row in json.loads(summary.read_text())["files"]}
    done, failed = report["long.mp4"], report["truncated.mp4"]
    assert (done["status"], done["frames"], done["chunks"]) == ("done", 40, 3)
    assert len(done["worker"].split(", ")) == 2  # both workers took chunks
    assert failed["status"] == "failed" and "its index lists from 3 s (truncated?)" in failed["reason"]

    # the joined video: every frame once, in order, at the times the whole run wrote, cut on keyframes
    times = frame_times(chunked / "long.mp4")
    assert len(times) == len(frame_times(clip)) == 40 and times == sorted(times)
    assert times == frame_times(whole / "long.mp4")
    assert audio_packets(chunked / "long.mp4") == audio_packets(whole / "long.mp4") == audio_packets(clip)
    assert {Fraction(2), Fraction(3)} <= set(keyframes(chunked / "long.mp4")) and set(keyframe_cuts(str(clip), 1.3)) == {
        Fraction(2), Fraction(3)} <= set(keyframes(clip))
    # the JSON lines: one a frame, in order, at the whole run's times; the masks: one a frame
    joined, alone = rows(chunked / "long.mp4.jsonl"), rows(whole / "long.mp4.jsonl")
    assert [row["frame"] for row in joined] == list(range(40)) == [row["frame"] for row in alone]
    assert [row["t"] for row in joined] == [row["t"] for row in alone]
    assert sorted(path.name for path in (chunked / "long.mp4.masks").iterdir()) == [f"{n:06d}.png" for n in range(40)]
    assert json.loads((chunked / "long.mp4.done.json").read_text())["frames"] == 40
    # the failed input: the chunks before the one that failed, and what it processed, joined; no marker
    kept = rows(chunked / "truncated.mp4.jsonl")
    assert 30 <= len(kept) < 40 and [row["frame"] for row in kept] == list(range(len(kept)))
    assert not (chunked / "truncated.mp4.done.json").exists()
    assert not [path for path in chunked.rglob("*") if ".partial-" in path.name]

    assert main(["batch", str(clip), "--out", str(chunked), "--chunk-seconds", "1.3", "--mode", "segment",
                 "--json", str(summary)]) == 0  # a rerun: complete, so skipped
    assert json.loads(summary.read_text())["files"][0]["status"] == "skipped"


def test_chunk_seconds_must_be_a_number_of_seconds(tmp_path, capsys):
    pytest.importorskip("ray", reason="needs the cluster extra: pip install -e '.[cluster]'")
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "out"), "--chunk-seconds", "-5"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "streamsee: error: --chunk-seconds must be a number of seconds, or 0 for no chunks; got -5.0"]
