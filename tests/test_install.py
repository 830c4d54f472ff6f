"""The package as users get it: a wheel built from the repo, installed into a fresh virtual environment
with only the runtime dependencies, runs its own main job from any folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def run(*args, cwd, timeout=600):
    result = subprocess.run([str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}: {result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv holding the wheel and what it requires, nothing else."""
    where = tmp_path_factory.mktemp("install")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", where / "dist", ROOT, cwd=where)
    wheel = next((where / "dist").glob("streamsee-*.whl"))
    run(sys.executable, "-m", "venv", where / "venv", cwd=where)
    run(where / "venv" / "bin" / "python", "-m", "pip", "install", "--quiet", wheel, cwd=where)
    return where / "venv"


def test_the_wheel_holds_the_presets_samples_and_models(venv):
    listing = run(venv / "bin" / "python", "-m", "pip", "show", "--files", "streamsee", cwd=venv).stdout
    for name in ("streamsee/configs/fast.toml", "streamsee/samples/sample.mp4", "streamsee/samples/chelsea.jpg",
                 "streamsee/models/fcn/fcn_int8.tflite", "streamsee/models/classifier/MODEL_CARD.md"):
        assert name in listing


def test_the_metadata_is_complete(venv):
    script = ("import json; from importlib.metadata import metadata\n"
              "m = metadata('streamsee')\n"
              "print(json.dumps({key: m.get_all(key) for key in set(m.keys())}))\n")
    fields = json.loads(run(venv / "bin" / "python", "-c", script, cwd=venv).stdout)
    for field in ("Version", "Summary", "Author", "License-Expression", "License-File", "Requires-Python",
                  "Description", "Keywords"):
        assert fields.get(field) and all(value.strip() for value in fields[field]), f"{field} is empty"
    assert "Topic :: Multimedia :: Video" in fields["Classifier"]
    assert {url.split(",")[0] for url in fields["Project-URL"]} >= {"Homepage", "Source", "Issues"}


def test_the_runtime_install_has_no_tensorflow(venv):
    installed = run(venv / "bin" / "python", "-m", "pip", "list", "--format", "json", cwd=venv).stdout
    names = {package["name"].lower() for package in json.loads(installed)}
    assert "streamsee" in names and not names & {"tensorflow", "tensorflow-cpu", "keras", "scikit-image"}
    site = next((venv / "lib").glob("python3*/site-packages"))
    size = sum(path.stat().st_size for path in site.rglob("*") if path.is_file())
    print(f"runtime install: {size / 1e6:.0f} MB in {site}")


def test_the_main_job_runs_from_another_folder(venv, tmp_path):
    streamsee = venv / "bin" / "streamsee"
    assert run(streamsee, "--version", cwd=tmp_path).stdout.strip() == "streamsee 0.1.0"
    # the bundled sample with the bundled fast preset: both found beside the installed package
    result = run(streamsee, "--config", "fast", "--no-display", "--output", "sample.mp4", "--jsonl", "sample.jsonl",
                 cwd=tmp_path)
    assert "bundled sample" in result.stderr and (tmp_path / "sample.mp4").stat().st_size > 10_000
    assert len((tmp_path / "sample.jsonl").read_text().splitlines()) == 150
    photo = run(venv / "bin" / "python", "-c", "import streamsee; print(streamsee.SAMPLE_IMAGE)", cwd=tmp_path).stdout
    assert "site-packages" in photo
    top3 = run(streamsee, "classify", photo.strip(), cwd=tmp_path).stdout
    assert "cat" in top3.split(":", 1)[1]
    script = ("import streamsee\n"
              "with streamsee.open(mode='compare') as stream:\n"
              "    for frame in stream:\n"
              "        if frame.index == 10:\n"
              "            break\n"
              "print(frame.index, sorted(frame.timings_ms))\n")
    assert run(venv / "bin" / "python", "-c", script, cwd=tmp_path).stdout.strip() == "10 ['boxes', 'segment']"
    error = subprocess.run([streamsee, "train", "--data", "x", "--out", "y"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=120)
    assert error.returncode == 2 and "pip install 'streamsee[train]'" in error.stderr
