"""`streamsee batch`: inputs and their outputs planned without Ray; then a real local Ray instance with two
workers on short clips made with ffmpeg and the bundled photo, a corrupt file among them, a rerun that
skips finished work, and Ctrl-C on a run in its own process."""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
from needs import hears_ctrl_c, need

from streamsee.batch.inputs import plan
from streamsee.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_IMAGE = ROOT / "streamsee" / "samples" / "chelsea.jpg"


def make_clip(path: Path, seconds: float = 1.0, rate: int = 10, pattern: str = "testsrc") -> Path:
    if shutil.which("ffmpeg") is None:
        need("needs ffmpeg (apt-get install ffmpeg) to make the clips")
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"{pattern}=size=160x120:rate={rate}",
                    "-t", str(seconds), "-pix_fmt", "yuv420p", str(path)], check=True, timeout=60)
    return path


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_plan_mirrors_the_input_tree_below_the_inputs_common_folder(tmp_path, monkeypatch):
    tree = tmp_path / "cams"
    for name in ("a.mp4", "sub/b.avi", "sub/deep/c.jpg", "notes.txt", ".hidden/d.mp4", "sub/.e.mp4"):
        touch(tree / name)
    out = tree / "out"
    touch(out / "old.mp4")  # outputs are never inputs
    jobs = plan([str(tree), str(tree / "a.mp4"), str(tmp_path / "c*")], out, masks=False)  # each input once
    assert [job.name for job in jobs] == ["cams/a.mp4", "cams/sub/b.avi", "cams/sub/deep/c.jpg"]
    a, b, c = jobs
    assert (a.kind, b.kind, c.kind) == ("video", "video", "image")
    assert a.output == str(out / "cams" / "a.mp4") and a.jsonl == str(out / "cams" / "a.mp4.jsonl")
    assert b.output == str(out / "cams" / "sub" / "b.avi.mp4")  # .avi is not written: an .mp4 beside its name
    assert c.output == str(out / "cams" / "sub" / "deep" / "c.jpg") and c.masks is None
    assert a.done == str(out / "cams" / "a.mp4.done.json")

    monkeypatch.chdir(tree)
    jobs = plan(["sub/**/*.jpg", "a.mp4"], out, video=False)
    assert [(job.name, job.output, job.masks) for job in jobs] == [
        ("sub/deep/c.jpg", None, str(out / "sub" / "deep" / "c.jpg.masks")), ("a.mp4", None, str(out / "a.mp4.masks"))]


@pytest.mark.parametrize("argument, message", [
    ("missing.mp4", "input not found: 'missing.mp4'"),
    ("nothing-*.mp4", "no file matches 'nothing-*.mp4'"),
    ("empty", "no video or image in folder 'empty'"),
])
def test_an_argument_that_names_nothing_is_one_line_before_any_work(tmp_path, monkeypatch, capsys, argument, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    assert main(["batch", argument, "--out", "out"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"streamsee: error: {message}"]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_output_folder_over_its_inputs_is_refused(tmp_path):
    touch(tmp_path / "a.mp4")
    with pytest.raises(ValueError, match="would overwrite the input"):
        plan([str(tmp_path / "a.mp4")], tmp_path)


def test_only_the_driver_imports_ray():
    """Ray is the cluster extra: the rest of the package, the worker included, runs without it."""
    importers = []
    for path in sorted((ROOT / "streamsee").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.partition(".")[0] == "ray" for name in names):
                importers.append(path.relative_to(ROOT).as_posix())
    assert sorted(set(importers)) == ["streamsee/batch/driver.py"]


def test_batch_without_ray_says_which_extra_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if the extra were not installed
    monkeypatch.delitem(sys.modules, "streamsee.batch.driver", raising=False)
    assert main(["batch", str(SAMPLE_IMAGE), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "streamsee: error: streamsee batch needs the cluster extra (ray is not installed): pip install 'streamsee[cluster]'"]


# --- a real local Ray instance ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def first_run(ray_instance, tmp_path_factory):
    """Three 1 s clips, the bundled photo and a corrupt file, through segment mode on two workers."""
    root = tmp_path_factory.mktemp("batch")
    inputs = root / "in"
    make_clip(inputs / "a.mp4")
    make_clip(inputs / "b.mp4", pattern="testsrc2")
    make_clip(inputs / "sub" / "c.mkv")
    shutil.copy(SAMPLE_IMAGE, inputs / "sub" / "chelsea.jpg")
    (inputs / "broken.mp4").write_bytes(os.urandom(4000))
    out, summary = root / "out", root / "summary.json"
    command = ["batch", str(inputs), "--out", str(out), "--mode", "segment", "--workers", "2", "--json", str(summary)]
    return inputs, out, summary, command


def statuses(summary: Path) -> dict[str, str]:
    return {row["name"]: row["status"] for row in json.loads(summary.read_text())["files"]}


@pytest.mark.slow
def test_two_ray_workers_process_every_input_and_report_the_corrupt_one(first_run, capsys):
    inputs, out, summary, command = first_run
    assert main(command) == 2  # an input failed; the others were processed
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("streamsee: error: 'broken.mp4': not a readable video: ")
    report = json.loads(summary.read_text())
    assert report["workers"] == 2 and report["counts"]["done"] == 4 and report["counts"]["failed"] == 1
    assert statuses(summary) == {"a.mp4": "done", "b.mp4": "done", "broken.mp4": "failed", "sub/c.mkv": "done",
                                 "sub/chelsea.jpg": "done"}
    assert len({row["worker"] for row in report["files"]}) == 2  # both workers took inputs
    assert report["frames"] == 10 + 10 + 10 + 1
    for name in ("a.mp4", "b.mp4", "sub/c.mkv"):
        with av.open(str(out / name)) as video:
            assert sum(1 for _ in video.decode(video=0)) == 10
        rows = [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]
        assert [row["frame"] for row in rows] == list(range(10)) and {row["mode"] for row in rows} == {"segment"}
        assert len(list((out / f"{name}.masks").glob("*.png"))) == 10
        marker = json.loads((out / f"{name}.done.json").read_text())
        assert marker["frames"] == 10 and marker["input"]["size"] == (inputs / name).stat().st_size
    assert (out / "sub" / "chelsea.jpg").is_file() and (out / "sub" / "chelsea.jpg.masks" / "000000.png").is_file()
    assert not (out / "broken.mp4").exists() and not (out / "broken.mp4.done.json").exists()
    assert not [path for path in out.rglob("*") if ".partial-" in path.name]


@pytest.mark.slow
def test_a_rerun_skips_finished_work_and_redoes_a_changed_input(first_run, capsys):
    inputs, out, summary, command = first_run
    if not (out / "a.mp4.done.json").is_file():
        main(command)
    written = {name: (out / name).stat().st_mtime_ns for name in ("a.mp4", "b.mp4", "sub/c.mkv.jsonl")}
    assert main(command) == 2  # the corrupt file is tried again, and fails again
    assert statuses(summary) == {"a.mp4": "skipped", "b.mp4": "skipped", "broken.mp4": "failed",
                                 "sub/c.mkv": "skipped", "sub/chelsea.jpg": "skipped"}
    assert {name: (out / name).stat().st_mtime_ns for name in written} == written

    (inputs / "broken.mp4").unlink()
    stamp = time.time() + 5
    os.utime(inputs / "a.mp4", (stamp, stamp))  # the input changed since its outputs were made
    assert main(command) == 0
    assert statuses(summary) == {"a.mp4": "done", "b.mp4": "skipped", "sub/c.mkv": "skipped",
                                 "sub/chelsea.jpg": "skipped"}
    assert "Traceback" not in capsys.readouterr().err


RUN_AND_INTERRUPT_TIMEOUT = 120


@pytest.mark.slow
def test_ctrl_c_cancels_cleanly_and_finalises_what_was_written(tmp_path):
    """SIGINT to the whole process group, as Ctrl-C in a terminal sends it: the command starts its own local
    Ray instance, and must end with status 130, a summary and no traceback; no input is marked done that
    was not finished, and no temporary file is left."""
    pytest.importorskip("ray", reason="needs the cluster extra: pip install -e '.[cluster]'")
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    shutil.copy(SAMPLE_IMAGE, inputs / "a.jpg")  # finishes first: then the run is under way
    make_clip(inputs / "b.mp4", seconds=12, rate=25)
    make_clip(inputs / "c.mp4", seconds=12, rate=25, pattern="testsrc2")
    process = subprocess.Popen([sys.executable, "-m", "streamsee", "batch", str(inputs), "--out", str(out),
                                "--workers", "2", "--json", str(tmp_path / "summary.json")],
                               stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=hears_ctrl_c,
                               env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    seen = []
    try:
        for line in process.stderr:
            seen.append(line)
            if "[1/3]" in line:
                break
        os.killpg(process.pid, signal.SIGINT)
        seen.append(process.stderr.read())
        assert process.wait(timeout=RUN_AND_INTERRUPT_TIMEOUT) == 130, "".join(seen)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    err = "".join(seen)
    assert "Traceback" not in err and "streamsee: interrupted (Ctrl-C)" in err.strip().splitlines()[-1], err
    report = json.loads((tmp_path / "summary.json").read_text())
    assert report["interrupted"] and statuses(tmp_path / "summary.json")["a.jpg"] == "done"
    for row in report["files"]:
        assert (out / f"{row['name']}.done.json").is_file() == (row["status"] in ("done", "skipped")), row
    assert "interrupted" in {row["status"] for row in report["files"]}
    assert not [path for path in out.rglob("*") if ".partial-" in path.name]


def test_a_signal_while_a_task_is_submitted_is_held_until_it_is_recorded():
    from streamsee.core.signals import signals_held

    class Terminated(Exception):
        pass

    def terminate(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        for signum, expected in ((signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Terminated)):
            steps = []
            with pytest.raises(expected):
                with signals_held():
                    os.kill(os.getpid(), signum)
                    time.sleep(0.2)  # the handler would have run by now
                    steps.append("recorded")
            assert steps == ["recorded"]  # the block ran to its end; the signal came after, to the usual handler
        assert signal.getsignal(signal.SIGTERM) is terminate
    finally:
        signal.signal(signal.SIGTERM, previous)
