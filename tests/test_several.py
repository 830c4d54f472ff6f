"""Several sources in one run (live.several, live.turns, the API's list of sources): real files, a real UDP
stream from ffmpeg, a damaged file among good ones, each source's own outputs."""

import json
import socket
import threading
import time

import numpy as np
import pytest
from test_io_robustness import clip, decoded_frames, streamsee
from test_live_cli import run_on_udp
from test_sources import free_port

import streamsee as package
from streamsee.live.several import source_names
from streamsee.live.turns import Turns
from streamsee.render.grid import GridAnnotator


def test_source_names_are_short_safe_and_unique():
    assert source_names(["clips/a.mp4", "other/a.mp4", "udp://127.0.0.1:5000", 0, "/dev/video2", "photos/",
                         "my clip (1).mkv", "rtsp://user:secret@cam.local/live"]) == [
        "a", "a-2", "udp-127.0.0.1-5000", "camera0", "video2", "photos", "my_clip_1", "rtsp-cam.local"]


def test_turns_are_taken_in_the_order_asked_and_never_more_at_once_than_the_workers():
    turns, inside, most, order = Turns(workers=1), [], [0], []
    lock = threading.Lock()

    def analyse(name: str) -> None:
        with turns:
            with lock:
                inside.append(name)
                most[0] = max(most[0], len(inside))
                order.append(name)
            time.sleep(0.02)
            with lock:
                inside.remove(name)

    with turns:  # held while the others queue up, one after another
        threads = []
        for name in "abcd":
            threads.append(threading.Thread(target=analyse, args=(name,)))
            threads[-1].start()
            deadline = time.monotonic() + 5
            while turns.waits < len(threads) and time.monotonic() < deadline:
                time.sleep(0.005)
    for thread in threads:
        thread.join(timeout=5)
    assert order == list("abcd") and most[0] == 1 and turns.waits == 4
    two = Turns(workers=2)
    with two, two:  # both places taken, neither waits
        assert two.waits == 0
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="workers"):
            Turns(bad)


def test_the_grid_fits_each_source_in_its_tile_and_leaves_a_silent_one_dark():
    wide, tall = np.full((90, 320, 3), 200, np.uint8), np.full((480, 100, 3), 100, np.uint8)
    grid = GridAnnotator(["wide", "tall", "none"], tile=(320, 180))
    image = grid.annotate([wide, tall, None])
    assert image.shape == (360, 640, 3) and image.dtype == np.uint8  # 2 columns, 2 rows
    assert image[90, 160].tolist() == [200, 200, 200]  # the wide frame, centred in its tile (fitted to 320x90)
    assert image[5, 160].tolist() == [24, 24, 24]  # letterboxed above it
    assert image[120, 480].tolist() == [100, 100, 100] and image[120, 340].tolist() == [24, 24, 24]
    assert image[300, 200].tolist() == [24, 24, 24]  # nothing yet from the third
    with pytest.raises(ValueError, match="3 sources"):
        grid.annotate([wide])


def test_with_several_inputs_an_output_that_is_a_file_is_one_line(tmp_path):
    one, two = clip(tmp_path / "one.mp4", 1), clip(tmp_path / "two.mp4", 1)
    result = streamsee(one, two, "--no-display", "--output", tmp_path / "out.mp4")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "--output" in result.stderr and "folder" in result.stderr
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.slow
def test_two_files_and_a_udp_stream_run_together_each_into_its_own_outputs(tmp_path):
    one, two = clip(tmp_path / "one.mp4", 3, 10), clip(tmp_path / "two.mp4", 2, 15)
    port = free_port(socket.SOCK_DGRAM)
    url = f"udp://127.0.0.1:{port}"
    out, rows, masks, stats = tmp_path / "out", tmp_path / "rows", tmp_path / "masks", tmp_path / "stats.json"
    code, stderr = run_on_udp(port, one, url, two, "--mode", "segment", "--timeout", "3", "--no-display",
                              "--output", out, "--jsonl", rows, "--save-masks", masks, "--stats-json", stats)
    assert code == 0, stderr
    name = f"udp-127.0.0.1-{port}"
    figures = json.loads(stats.read_text())["sources"]
    assert sorted(figures) == sorted(["one", "two", name])
    for source, frames in (("one", 30), ("two", 30)):  # files: every frame, in order, analysed
        assert figures[source]["frames"] == figures[source]["analysed"] == frames
        assert figures[source]["ended"] == "end of input"
    assert figures[name]["frames"] + figures[name]["dropped"] >= 60  # about 100 sent in 4 s
    for source, figure in figures.items():
        assert decoded_frames(out / f"{source}.mp4") == figure["frames"]
        lines = (rows / f"{source}.jsonl").read_text().splitlines()
        assert len(lines) == figure["frames"] and json.loads(lines[-1])["frame"] == figure["frames"] - 1
        assert len(list((masks / source).glob("*.png"))) == figure["frames"]
    for source in ("one", "two", name):  # each source's summary
        assert f"{source}: " in stderr and "frames in" in stderr


def test_one_source_failing_does_not_stop_the_others(tmp_path):
    whole = clip(tmp_path / "whole.mp4", 4, 10, "-movflags", "+faststart")
    broken = tmp_path / "broken.mp4"
    data = whole.read_bytes()
    broken.write_bytes(data[: len(data) * 2 // 3])
    good = clip(tmp_path / "good.mp4", 3, 10)
    out, stats = tmp_path / "out", tmp_path / "stats.json"
    result = streamsee(broken, good, "--mode", "segment", "--no-display", "--output", out, "--stats-json", stats)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    said = [line for line in result.stderr.splitlines() if line.startswith("streamsee: broken: ")]
    assert len(said) == 1 and "truncated" in said[0], result.stderr
    figures = json.loads(stats.read_text())["sources"]
    assert figures["good"]["frames"] == 30 and figures["good"]["ended"] == "end of input"
    assert 0 < figures["broken"]["frames"] < 40 and "broken.mp4" in figures["broken"]["ended"]
    assert decoded_frames(out / "good.mp4") == 30  # the good one whole, the broken one up to its damage
    assert decoded_frames(out / "broken.mp4") == figures["broken"]["frames"]


def test_the_api_yields_every_sources_frames_tagged_with_its_name(tmp_path):
    one, two = clip(tmp_path / "one.mp4", 1, 10), clip(tmp_path / "two.mp4", 2, 10)
    seen: dict[str, list[int]] = {}
    with package.open([one, two], mode="segment", workers=1) as stream:
        assert sorted(stream.stats) == ["one", "two"]
        for frame in stream:
            seen.setdefault(frame.source, []).append(frame.index)
            assert frame.class_map is not None and frame.class_map.shape == frame.image.shape[:2]
    assert seen == {"one": list(range(10)), "two": list(range(20))}
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("streamsee")]
