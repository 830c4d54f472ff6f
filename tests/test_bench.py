"""`streamsee bench` on a few real composed scenes: every stage timed, recall measured apart."""

import numpy as np
import pytest

from streamsee.evaluation.bench import bench_classifier, bench_paths, render_bench

pytestmark = pytest.mark.slow  # the bench on composed scenes


def test_classifier_bench_times_each_model_and_view():
    report = bench_classifier(repeats=1)
    assert len(report) == 8  # int8 and float, mirror view and one view, batch 1 and 64
    for key, row in report.items():
        batch = 64 if "batch64" in key else 1
        assert 0 < row["p50_ms"] <= row["p95_ms"]
        assert row["per_crop_ms"] == pytest.approx(row["p50_ms"] / batch, abs=1e-3)


def test_paths_bench_reports_speed_and_recall(cifar_path, media):
    media("negatives")  # the scenes' backgrounds: ../shared/media/negatives
    report = bench_paths(cifar_path, frames=2, repeats=1, recall_scenes=8)
    assert report["frames"] == 2 and report["recall_scenes"] == 8
    assert report["recall_objects"] > 0  # six of the eight scenes hold objects
    for key in ("fcn", "proposals_boundieboxies", "proposals_dlib", "boxes_boundieboxies", "boxes_dlib"):
        assert 0 < report[key]["p50_ms"] <= report[key]["p95_ms"]
    for method in ("boundieboxies", "dlib"):
        assert 0.5 <= report[f"proposals_{method}"]["object_recall"] <= 1.0  # both find most pasted objects
    assert report["dlib_over_boundieboxies"] == pytest.approx(
        report["proposals_dlib"]["p50_ms"] / report["proposals_boundieboxies"]["p50_ms"], abs=0.01)
    assert report["dlib_over_boundieboxies_mean"] == pytest.approx(
        report["proposals_dlib"]["mean_ms"] / report["proposals_boundieboxies"]["mean_ms"], abs=0.01)
    assert np.isfinite(report["fcn_over_boxes"]) and report["fcn_over_boxes"] > 0


def test_bench_renders_a_table(capsys):
    from rich.console import Console

    row = {"p50_ms": 1.0, "p95_ms": 2.0, "mean_ms": 1.5}
    paths = {"frame_size": "640x480", "frames": 2, "recall_scenes": 8, "recall_objects": 14,
             "fcn": row, "fcn_over_boxes": 0.1, "dlib_over_boundieboxies": 6.0, "dlib_over_boundieboxies_mean": 4.5,
             **{f"{kind}_{m}": dict(row, object_recall=0.9) if kind == "proposals" else row
                for m in ("boundieboxies", "dlib") for kind in ("proposals", "boxes")}}
    render_bench({"classifier": {"x@batch1": {"p50_ms": 0.1, "per_crop_ms": 0.1}}, "paths": paths},
                 Console(width=200))
    out = capsys.readouterr().out
    assert "8 more, 14 objects" in out and "6.0x at p50" in out and "4.5x by the mean" in out
