"""`streamsee INPUT --mode ...` on stills: annotated output, JSON lines, masks, failures."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

SAMPLE = Path(__file__).resolve().parent.parent / "streamsee" / "samples" / "chelsea.jpg"
ROW_KEYS = {"frame", "t", "mode", "analysed", "latency_ms", "boxes", "segments"}


def streamsee(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "streamsee.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def test_compare_on_one_image(tmp_path):
    out, rows, masks = tmp_path / "out.png", tmp_path / "rows.jsonl", tmp_path / "masks"
    result = streamsee(SAMPLE, "--mode", "compare", "--output", out, "--jsonl", rows, "--save-masks", masks)
    assert result.returncode == 0, result.stderr
    source = cv2.imread(str(SAMPLE))
    annotated = cv2.imread(str(out))
    assert annotated.shape == (source.shape[0], 2 * source.shape[1], 3)
    lines = [json.loads(line) for line in rows.read_text().splitlines()]
    assert [(row["frame"], row["mode"]) for row in lines] == [(0, "boxes"), (0, "segment")]
    for row in lines:
        assert set(row) == ROW_KEYS and row["analysed"] is True and row["latency_ms"] > 0
    assert lines[0]["segments"] == [] and lines[1]["boxes"] == []
    for box in lines[0]["boxes"]:
        assert set(box) == {"xyxy", "label", "class_id", "score"}
    for segment in lines[1]["segments"]:
        assert set(segment) == {"label", "class_id", "area", "score", "xyxy"}
    mask = cv2.imread(str(masks / "000000.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == source.shape[:2] and mask.dtype == np.uint8
    claimed = {s["class_id"] for s in lines[1]["segments"]}
    assert set(np.unique(mask)) - {255} == claimed


def test_folder_in_file_name_order(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "b.jpg")
    cv2.imwrite(str(folder / "a.png"), cv2.imread(str(SAMPLE), cv2.IMREAD_GRAYSCALE))
    out, rows = tmp_path / "annotated", tmp_path / "rows.jsonl"
    result = streamsee(folder, "--mode", "boxes", "--output", out, "--jsonl", rows)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.jpg"]
    assert [json.loads(line)["frame"] for line in rows.read_text().splitlines()] == [0, 1]


@pytest.mark.parametrize("args, message", [
    (["missing.jpg"], "missing.jpg"),
    ([SAMPLE, "--output", "/proc/streamsee/out.png"], "/proc/streamsee/out.png"),
    ([SAMPLE, "--mode", "boxes", "--save-masks", "masks"], "--save-masks"),
    ([SAMPLE, "--objectness-width", "100"],
     "objectness_width must be a whole number from 64 to 1920, a multiple of 8, or left out for none, not 100"),
])
def test_failures_are_one_line(tmp_path, args, message):
    result = subprocess.run([sys.executable, "-m", "streamsee.cli", *map(str, args)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_the_objectness_fcn_is_turned_on_by_its_width(tmp_path):
    rows = tmp_path / "rows.jsonl"
    result = streamsee(SAMPLE, "--mode", "segment", "--objectness-width", 160, "--jsonl", rows, "--no-display")
    assert result.returncode == 0, result.stderr
    row = json.loads(rows.read_text())
    assert row["mode"] == "segment" and "cat" in [segment["label"] for segment in row["segments"]]


def test_unreadable_image_in_a_folder_is_skipped(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "a.jpg")
    (folder / "b.jpg").write_bytes(b"broken")
    rows = tmp_path / "rows.jsonl"
    result = streamsee(folder, "--mode", "segment", "--jsonl", rows)
    assert result.returncode == 0 and "warning" in result.stderr and "b.jpg" in result.stderr
    assert len(rows.read_text().splitlines()) == 1  # frame 0; b.jpg skipped, not the end of the run
