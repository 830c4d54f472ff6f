"""recognition.variants: each shipped model's int8 or float export, timed once per machine and cached."""

import json

import pytest

from streamsee.recognition import variants
from streamsee.recognition.boxes import DEFAULT_BOX_MODEL
from streamsee.recognition.fcn import DEFAULT_FCN

SHAPE = (1, 48, 64, 3)  # a small input: the timing takes a fraction of a second


@pytest.fixture
def timings(monkeypatch):
    """Every call of the real timing, recorded."""
    calls = []
    real = variants.time_candidates

    def recorded(files, shape, threads):
        calls.append((dict(files), shape, threads))
        return real(files, shape, threads)

    monkeypatch.setattr(variants, "time_candidates", recorded)
    return calls


def test_auto_times_both_exports_once_then_reads_the_cache(tmp_path, timings):
    cache = tmp_path / "cache" / "runtime.json"
    first = variants.choose(DEFAULT_FCN, SHAPE, cache=cache)
    assert len(timings) == 1 and set(timings[0][0]) == {"int8", "float"}
    assert set(first.timings) == {f"{runtime}/{threads}" for runtime in ("int8", "float")
                                  for threads in variants.thread_counts()}
    assert first.threads == variants.usable_cores() and first.path.name.endswith(f"_{variants.pick(first.timings)}.tflite")
    assert first.path in (DEFAULT_FCN, DEFAULT_FCN.with_name("fcn_float.tflite"))
    again = variants.choose(DEFAULT_FCN, SHAPE, cache=cache)
    assert len(timings) == 1 and again == first  # read, not timed
    variants.choose(DEFAULT_FCN, (1, 56, 64, 3), cache=cache)  # another input shape is timed on its own
    variants.choose(DEFAULT_BOX_MODEL, (4, 32, 32, 3), cache=cache)  # and another model
    assert len(timings) == 3 and len(json.loads(cache.read_text())) == 3


def test_float_is_chosen_only_where_clearly_faster():
    assert variants.pick({"int8/1": 30, "int8/2": 20, "float/1": 25, "float/2": 17.9}) == "float"
    assert variants.pick({"int8/1": 30, "int8/2": 20, "float/1": 25, "float/2": 18.5}) == "int8"  # within the margin
    assert variants.pick({"int8/1": 10, "int8/2": 20, "float/1": 5, "float/2": 19}) == "int8"  # one core says nothing
    assert variants.pick({"int8/1": 10, "int8/2": 20}) == "int8"  # no float export


def test_forced_runtimes_time_nothing(tmp_path, timings):
    int8 = variants.choose(DEFAULT_FCN, SHAPE, runtime="int8", cache=tmp_path / "runtime.json")
    floating = variants.choose(DEFAULT_FCN, SHAPE, runtime="float", cache=tmp_path / "runtime.json")
    assert (int8.path, floating.path) == (DEFAULT_FCN, DEFAULT_FCN.with_name("fcn_float.tflite"))
    assert int8.threads == floating.threads == variants.usable_cores() and not timings
    assert not (tmp_path / "runtime.json").exists()
    with pytest.raises(ValueError, match="runtime must be one of auto, int8, float, not 'fp16'"):
        variants.choose(DEFAULT_FCN, SHAPE, runtime="fp16")


def test_a_model_without_a_float_export_is_int8(tmp_path, timings):
    alone = tmp_path / "alone_int8.tflite"
    alone.write_bytes(DEFAULT_FCN.read_bytes())
    choice = variants.choose(alone, SHAPE, cache=tmp_path / "runtime.json")
    assert choice.path == alone and set(name.split("/")[0] for name in choice.timings) == {"int8"}
    with pytest.raises(FileNotFoundError, match="no float export beside"):
        variants.choose(alone, SHAPE, runtime="float")
    with pytest.raises(ValueError, match="not an int8 export"):
        variants.choose(tmp_path / "model.tflite", SHAPE)


def test_a_changed_model_file_is_timed_again(tmp_path, timings):
    model = tmp_path / "m_int8.tflite"
    model.write_bytes(DEFAULT_FCN.read_bytes())
    variants.choose(model, SHAPE, cache=tmp_path / "runtime.json")
    model.write_bytes(DEFAULT_FCN.read_bytes())  # written again, same bytes: still cached
    variants.choose(model, SHAPE, cache=tmp_path / "runtime.json")
    assert len(timings) == 1
    (tmp_path / "m_float.tflite").write_bytes(DEFAULT_FCN.with_name("fcn_float.tflite").read_bytes())  # a new export
    assert variants.choose(model, SHAPE, cache=tmp_path / "runtime.json").timings.keys() >= {"float/1"}
    assert len(timings) == 2


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"x": 1}'])
def test_a_corrupt_cache_is_timed_again_and_replaced(tmp_path, timings, content):
    cache = tmp_path / "runtime.json"
    cache.write_text(content)
    choice = variants.choose(DEFAULT_FCN, SHAPE, cache=cache)
    assert len(timings) == 1
    stored = json.loads(cache.read_text())
    assert choice.timings in stored.values() and len(stored) == (2 if content == '{"x": 1}' else 1)
    key = next(key for key, value in stored.items() if value == choice.timings)
    stored[key] = {"int8/1": "fast"}  # a bad entry: timed again
    cache.write_text(json.dumps(stored))
    variants.choose(DEFAULT_FCN, SHAPE, cache=cache)
    assert len(timings) == 2


def test_an_unwritable_cache_is_timed_each_time_and_said_once(tmp_path, timings, capsys):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be")
    first = variants.choose(DEFAULT_FCN, SHAPE, cache=blocked / "runtime.json")
    variants.choose(DEFAULT_FCN, SHAPE, cache=blocked / "runtime.json")
    assert len(timings) == 2 and first.path.is_file()
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all("could not keep the runtime choice" in line and str(blocked) in line for line in lines)


def test_the_cache_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMSEE_CACHE_DIR", str(tmp_path / "mine"))
    assert variants.cache_file() == tmp_path / "mine" / "runtime.json"
    monkeypatch.delenv("STREAMSEE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert variants.cache_file() == tmp_path / "xdg" / "streamsee" / "runtime.json"


def test_cpu_features_read_the_flags_that_decide(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Test CPU\ncpu cores\t: 2\nflags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_vnni\n")
    features = variants.cpu_features(cpuinfo)
    assert features["model"] == "Test CPU" and features["physical_cores_per_socket"] == 2
    assert features["flags"] == ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni"] and features["int8_dot_product"]


def test_the_analyser_runs_the_chosen_exports(tmp_path, monkeypatch):
    from streamsee.live.analyser import Analyser

    monkeypatch.setenv("STREAMSEE_CACHE_DIR", str(tmp_path))
    with Analyser("compare", runtime="float", objectness_width=128) as analyser:
        assert {name: choice.path.name for name, choice in analyser.models.items()} == {
            "fcn": "fcn_float.tflite", "boxes": "boxes_float.tflite", "objectness": "fcn_float.tflite"}
        segment = analyser.paths["segment"]
        assert segment.scores.model_path.name == "fcn_float.tflite"
        assert segment.namer.classifier.model_path.name == segment.coarse.classifier.model_path.name == "boxes_float.tflite"
        assert analyser.paths["boxes"].classifier.model_path.name == "boxes_float.tflite"
        analyser.retune(working_width=96)  # the governor's rebuild keeps the exports
        assert analyser.paths["segment"].scores.model_path.name == "fcn_float.tflite"
        assert analyser.paths["segment"].objects.objectness.model_path.name == "fcn_float.tflite"
    with Analyser("segment", runtime="int8") as analyser:  # the objectness FCN off, as by default: not loaded
        assert list(analyser.models) == ["fcn", "boxes"] and analyser.paths["segment"].objects.objectness is None
    with Analyser("boxes", runtime="int8") as analyser:
        assert list(analyser.models) == ["boxes"] and analyser.paths["boxes"].classifier.model_path == DEFAULT_BOX_MODEL
    assert not (tmp_path / "runtime.json").exists()


def test_the_float_and_int8_exports_name_the_same_things(tmp_path, monkeypatch):
    """Either export may run (the faster here): on the bundled sample's frames both paths name the same
    classes with either (the box model's labels, the FCN path's top region)."""
    from streamsee.core.files import SAMPLE_VIDEO
    from streamsee.evaluation.footage import sample_frames, top_label
    from streamsee.live.analyser import Analyser

    frames = [frame for frame, _ in sample_frames(SAMPLE_VIDEO, 5)]
    labels = {}
    for runtime in ("int8", "float"):
        with Analyser("compare", runtime=runtime) as analyser:
            labels[runtime] = [[top_label(output.result) for output in analyser(frame)] for frame in frames]
    assert labels["int8"] == labels["float"] and labels["int8"][0] == ["cat", "cat"]
