"""`streamsee bench` on a few frames: every part runs and reports, ratios are the quotients of their
parts, the table and the figure render, bad flags are one line. No speed is asserted here."""

import json

import numpy as np
import pytest

from streamsee.core.files import MODELS_DIR
from streamsee.evaluation.bench import BenchSettings, parse_sizes, run_bench
from streamsee.evaluation.bench_limit import fully_connected_model, model_macs
from streamsee.evaluation.bench_parts import StageClock, crowded_scene, decode_frames, instrument_fcn
from streamsee.recognition.segmenter import Segmenter

pytestmark = pytest.mark.slow  # the bench itself, on a few frames


def no_tensorflow(weights, inputs, repeats):
    raise ModuleNotFoundError("No module named 'tensorflow'", name="tensorflow")


@pytest.fixture(scope="module")
def report(cifar_path, media):
    settings = BenchSettings(frames=2, sizes=((640, 480),), data=str(cifar_path), backgrounds=str(media("negatives")),
                             scenes=4, scaling_counts=(1, 8), scaling_frames=1, windows_width=32, matmul_side=256,
                             fc_side=128, pipeline_frames=3, pipeline_rounds=2, live_frames=15, sources=(1, 2),
                             source_frames=3)
    lines = []
    measured = run_bench(settings, lines.append, time_tensorflow=no_tensorflow)
    assert list(dict.fromkeys(line[:3] for line in lines)) == ["0/7", "1/7", "2/7", "3/7", "4/7", "5/7", "6/7", "7/7"]
    return json.loads(json.dumps(measured))  # what --json writes


def stats_ok(row: dict) -> bool:
    return 0 < row["p50_ms"] <= row["p95_ms"] and row["n"] >= 1


def test_the_report_carries_every_part(report):
    assert report["settings"]["frames"] == 2 and report["settings"]["native_size"] == "640x480"
    assert set(report["machine"]["flags"]) <= {"sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
                                               "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8", "amx_bf16"}
    assert report["machine"]["logical_cores"] >= 1
    exports = report["exports"]  # the main job's choice, which part 1 times
    assert set(exports) == {"fcn", "boxes"} and all(row["threads"] >= 1 for row in exports.values())
    assert all(row["file"].endswith(("_int8.tflite", "_float.tflite")) for row in exports.values())
    paths = report["paths"]["640x480"]
    assert paths["frames"] == 2
    for kind, stages in (("fcn", {"preprocess", "inference", "postprocess", "draw", "inference: class FCN",
                                  "inference: window classifier"}),
                         ("boxes", {"proposals", "preprocess", "inference", "postprocess", "draw",
                                    "inference: classifier"})):
        assert stats_ok(paths[kind]["total"]) and stages <= set(paths[kind]["stages"])
        assert paths[kind]["stages"]["inference"]["p50_ms"] <= paths[kind]["total"]["p50_ms"]
        assert paths[kind]["macs_per_frame"] > 700e6  # the class FCN alone is 708 M at 160x120
    proposals = report["proposals"]
    assert proposals["scenes"]["count"] == 4 and proposals["scenes"]["objects"] > 0
    for method in ("boundieboxies", "dlib"):
        assert stats_ok(proposals["frames"][method]) and stats_ok(proposals["scenes"][method])
        assert 0 <= proposals["scenes"][method]["object_recall"] <= 1
    assert [row["objects"] for row in proposals["scaling"]] == [1, 8]
    windows = report["windows"]
    assert windows["working_size"] == [24, 32] and windows["output_cells"] == [12, 16] and windows["stride"] == 2
    assert windows["windows"] == 12 * 16
    runtimes = report["runtimes"]
    for name in ("litert_int8", "litert_float"):
        assert stats_ok(runtimes[name])
    assert runtimes["litert_float"]["agreement_with_float"] == 1.0
    assert 0.8 <= runtimes["litert_int8"]["agreement_with_float"] <= 1.0  # int8 labels cells nearly as float does
    assert "streamsee[train]" in runtimes["tensorflow"]["not_measured"]
    assert "not_measured" in runtimes["onnxruntime"]
    limit = report["limit"]
    assert limit["class_fcn"]["litert_int8"]["macs"] == 453_227_520  # at 96x128: 0.64 of 708,168,000 at 120x160
    assert all(row["percent_of_peak"] > 0 for row in limit["class_fcn"].values())
    assert set(report["pipeline"]) == {"frames", "segment", "boxes"}
    assert report["pipeline"]["segment"]["file_frames"] == report["pipeline"]["frames"] == 3
    assert report["pipeline"]["segment"]["rounds"] == 2 and report["pipeline"]["boxes"]["file_frames"] == 2
    assert set(report["live"]) >= {"p50_ms", "p95_ms", "budget_ms"} and report["live"]["budget_ms"] == 250.0
    live = report["live"]
    assert live["frames"] == 15 and live["results"] >= 1
    assert 0 < live["p50_ms"] <= live["p95_ms"] and 0 < live["frame_latency_p50_ms"] <= live["frame_latency_p95_ms"]
    assert live["p95_ms"] == live["cost"]["result_age_p95_ms"]  # the age the budget holds (live.governor)
    rows = report["sources"]["rows"]
    assert [(row["sources"], row["client"]) for row in rows] == [(1, False), (1, True), (2, False), (2, True)]
    for row in rows:  # every source ran all its frames; a watching client received the video
        assert len(row["fps_per_source"]) == row["sources"] and all(fps > 0 for fps in row["fps_per_source"])
        assert row["fps_total"] > 0 and row["frames_each"] == 3
        assert (row["client_kib"] > 0) == row["client"]
    assert rows[0]["total_over_one_source"] == 1.0


def test_each_ratio_is_the_quotient_of_its_parts(report):
    ratios = report["ratios"]
    assert set(ratios) == {"fcn_over_boxes_640x480", "dlib_over_boundieboxies", "windows_over_fcn",
                           "file_over_bare_segment"}
    paths = report["paths"]["640x480"]
    pairs = {"fcn_over_boxes_640x480": (paths["fcn"]["total"]["p50_ms"], paths["boxes"]["total"]["p50_ms"]),
             "dlib_over_boundieboxies": (report["proposals"]["scenes"]["dlib"]["p50_ms"],
                                         report["proposals"]["scenes"]["boundieboxies"]["p50_ms"]),
             "windows_over_fcn": (report["windows"]["windows_ms"], report["windows"]["fcn_ms"]),
             "file_over_bare_segment": (report["pipeline"]["segment"]["file_fps"],
                                        report["pipeline"]["segment"]["bare_fps"])}
    for key, (numerator, denominator) in pairs.items():
        assert ratios[key] == pytest.approx(numerator / denominator, rel=1e-3, abs=1e-3), key
    peak = report["limit"]["peak"]
    for key in ("float32_numpy_gmacs", "int8_litert_gmacs", "float32_litert_gmacs"):
        assert peak[key] == max(measured[key] for measured in peak["measured"]) > 0  # the better of two
    percent = report["limit"]["class_fcn"]["litert_int8"]
    assert percent["percent_of_peak"] == pytest.approx(
        100 * percent["macs"] / (percent["ms"] / 1000) / 1e9 / report["limit"]["peak"]["int8_litert_gmacs"], rel=1e-2)


def test_the_table_renders(report):
    from rich.console import Console

    from streamsee.evaluation.bench_render import render_bench

    console = Console(width=220, record=True)
    render_bench(report, console)
    text = console.export_text()
    assert "1. ms per frame" in text and "640x480" in text
    for key in report["ratios"]:
        assert key in text
    assert "budget of 250 ms" in text and "streamsee[train]" in text


def test_the_figure_is_a_png(report, tmp_path):
    pytest.importorskip("matplotlib", reason="the bench extra: pip install 'streamsee[bench]'")
    from streamsee.evaluation.bench_render import plot_bench

    plot_bench(report, tmp_path / "bench.png")
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_timing_the_stages_leaves_the_result_alone():
    frame = decode_frames(None, 1)[0]
    with Segmenter.at_widths(objectness_width=256) as segmenter:  # every model the FCN path can run
        before = segmenter(frame)
        clock = StageClock()
        instrument_fcn(segmenter, clock)
        after = segmenter(frame)
    assert np.array_equal(before.class_map, after.class_map)
    assert {"preprocess", "inference: class FCN", "inference: objectness FCN"} <= set(clock.ms)
    assert [shape for path, shape in clock.runs if path.parent.name == "fcn"] == [(1, 96, 128, 3)]


def test_multiply_adds_are_read_from_the_model_file():
    classifier = MODELS_DIR / "classifier" / "classifier_int8.tflite"
    logged = json.loads((classifier.parent / "training_log.json").read_text())["macs"]
    assert model_macs(classifier, (1, 32, 32, 3)) == logged  # the figure training counted with Keras
    assert model_macs(classifier, (5, 32, 32, 3)) == 5 * logged


def test_the_peak_model_multiplies():
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=fully_connected_model(4, 8, 3, int8=False))
    interpreter.allocate_tensors()
    x = np.arange(32, dtype=np.float32).reshape(4, 8) / 10
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    weights = np.random.default_rng(0).standard_normal((3, 8), dtype=np.float32)
    assert np.allclose(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), x @ weights.T, atol=1e-4)
    interpreter = Interpreter(model_content=fully_connected_model(4, 8, 3, int8=True))
    interpreter.allocate_tensors()
    assert interpreter.get_output_details()[0]["shape"].tolist() == [4, 3]
    assert interpreter.get_output_details()[0]["dtype"] == np.int8


@pytest.mark.parametrize("count", [1, 37, 600])
def test_crowded_scenes_hold_that_many_objects_apart(count):
    rng = np.random.default_rng(0)
    image, boxes = crowded_scene(rng, np.zeros((480, 640, 3), np.uint8), np.full((5, 32, 32, 3), 200, np.uint8), count)
    assert len(boxes) == count
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 640).all() and (boxes[:, 3] <= 480).all()
    covered = np.zeros((480, 640), int)
    for x1, y1, x2, y2 in boxes.astype(int):
        covered[y1:y2, x1:x2] += 1
    assert covered.max() == 1  # no two overlap
    assert (image > 0).any(axis=2).sum() == covered.sum()


def test_sizes_are_parsed():
    assert parse_sizes("320x240, 640X480,320x240") == ((320, 240), (640, 480))


@pytest.mark.parametrize("flags, named", [
    (["--sizes", "640by480"], "'640by480'"),
    (["--sizes", "640x480,16x16"], "'640x480,16x16'"),
    (["--frames", "0"], "'0'"),
    (["--frames", "many"], "'many'"),
    (["--sources", "1,two"], "'two'"),
    (["--input", "no-such-clip.mp4"], "'no-such-clip.mp4'"),
    (["--plot", "bench.jpg"], "'bench.jpg'"),
    (["--json", "no-such-folder/bench.json"], "'no-such-folder/bench.json'"),
])
def test_bad_flags_are_one_line(flags, named, capsys, tmp_path, monkeypatch):
    from streamsee.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["bench", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("streamsee: error: ") and named in err, err


def test_plot_without_matplotlib_names_the_extra(capsys, tmp_path, monkeypatch):
    import importlib.util

    from streamsee.cli import main

    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else found(name, *a))
    assert main(["bench", "--plot", str(tmp_path / "bench.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'streamsee[bench]'" in err
