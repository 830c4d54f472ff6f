"""The command line as a user runs it: a real process, real files."""

import json
import subprocess
import sys

import cv2
import pytest


def streamsee(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "streamsee.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def test_classify_puts_cat_in_top3(media):
    result = streamsee("classify", media("photos/cat_chelsea.png"))
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith(str(media("photos/cat_chelsea.png")))
    top3 = [part.strip().split()[0] for part in line.split(":", 1)[1].split(",")]
    assert len(top3) == 3 and "cat" in top3


def test_classify_grey_and_rgba_images_as_json(media, tmp_path):
    colour = cv2.imread(str(media("photos/cat_chelsea.png")))
    grey = tmp_path / "grey.png"
    rgba = tmp_path / "rgba.png"
    cv2.imwrite(str(grey), cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(rgba), cv2.cvtColor(colour, cv2.COLOR_BGR2BGRA))
    result = streamsee("classify", "--json", grey, rgba)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["image"] for row in rows] == [str(grey), str(rgba)]
    for row in rows:
        assert len(row["top3"]) == 3
        assert row["top3"][0]["probability"] >= row["top3"][1]["probability"] >= row["top3"][2]["probability"]
    assert "cat" in [entry["label"] for entry in rows[1]["top3"]]


@pytest.mark.parametrize("content", [None, b"not an image at all"])
def test_classify_bad_input_is_one_line(tmp_path, content):
    path = tmp_path / "photo.jpg"
    if content is not None:
        path.write_bytes(content)
    result = streamsee("classify", path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "photo.jpg" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_evaluate_json(cifar_sample):
    result = streamsee("evaluate", "--data", cifar_sample, "--json")  # 500 test images (the whole set: test_classifier)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"top1", "top1_single_view", "per_class", "confusion", "model", "n"}
    assert report["n"] == 500 and 0.8 < report["top1"] <= 1.0
    assert len(report["confusion"]) == 10 and all(len(row) == 10 for row in report["confusion"])


@pytest.mark.slow
def test_evaluate_table_and_bad_data_path(cifar_sample, tmp_path):
    table = streamsee("evaluate", "--data", cifar_sample)
    assert table.returncode == 0 and "top-1" in table.stdout and "confusion" in table.stdout
    missing = streamsee("evaluate", "--data", tmp_path / "nowhere.tar.gz")
    assert missing.returncode == 2 and "nowhere.tar.gz" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.slow
def test_train_into_a_folder_of_another_run(cifar_path, tmp_path):
    (tmp_path / "training_log.json").write_text(json.dumps({"epochs": 5, "limit": None, "batch_size": 256}))
    (tmp_path / "checkpoint.keras").write_bytes(b"x")
    result = streamsee("train", "--data", cifar_path, "--out", tmp_path, "--epochs", "3")
    assert result.returncode == 2 and "resume it with the same settings" in result.stderr


@pytest.mark.slow
def test_train_boxes_at_a_side_too_small(cifar_path, tmp_path):
    result = streamsee("train", "boxes", "--data", cifar_path, "--out", tmp_path, "--size", "8")
    assert result.returncode == 2 and "at least 16, got 8" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_evaluate_scenes_json(cifar_path, media):
    result = streamsee("evaluate", "--data", cifar_path, "--scenes", "4", "--backgrounds", media("negatives"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["scenes"] == 4 and report["empty_scenes"] == 1
    assert 0.0 <= report["fcn"]["miou"] <= 1.0 and report["fcn"]["p50_ms"] > 0
    for method in ("boundieboxies", "dlib"):
        row = report[f"boxes_{method}"]
        assert set(row) >= {"recall", "false_boxes_per_frame", "proposal_recall", "p50_ms", "p95_ms"}


def test_evaluate_scenes_bad_count(cifar_path):
    result = streamsee("evaluate", "--data", cifar_path, "--scenes", "0")
    assert result.returncode == 2 and "--scenes" in result.stderr
