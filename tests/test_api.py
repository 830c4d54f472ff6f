"""streamsee.open(...): the generator API people embed, on real clips."""

import threading

import numpy as np
import pytest

import streamsee


def streamsee_threads():
    return [t for t in threading.enumerate() if t.name.startswith("streamsee-")]


def test_every_frame_of_a_file_with_its_class_map(media):
    clip = media("videos/dog.mp4")  # 512x512, 10 fps, 32 frames
    with streamsee.open(clip, mode="segment") as stream:
        frames = list(stream)
    assert [frame.index for frame in frames] == list(range(32))
    assert all(frame.analysed for frame in frames)
    assert frames[3].timestamp == pytest.approx(0.3)
    first = frames[0]
    assert first.image.shape == (512, 512, 3) and first.image.dtype == np.uint8
    assert first.class_map.shape == (512, 512) and first.probabilities.shape == (64, 64, 11)  # stride 2 of the 128x128 working size
    assert first.boxes is None and set(first.timings_ms) == {"segment"}
    assert all(frame.latency_ms > 0 for frame in frames)
    snapshot = stream.stats.snapshot(whole_run=True)
    assert snapshot.frames == snapshot.analysed == 32
    assert not streamsee_threads()


def test_compare_gives_both_results_per_frame(media):
    with streamsee.open(media("videos/dog.mp4"), mode="compare") as stream:
        frame = next(iter(stream))
        assert frame.boxes is not None and frame.segmentation is not None
        assert set(frame.timings_ms) == {"boxes", "segment"}
        assert frame.boxes.xyxy.dtype == np.float32 and frame.boxes.xyxy.shape[1] == 4
    assert not streamsee_threads()


def test_leaving_early_or_raising_stops_the_threads(media):
    clip = media("videos/car-detection.mp4")  # 377 frames: far more than the queues hold
    for frame in streamsee.open(clip, mode="segment"):  # no `with`: the generator cleans up
        if frame.index == 2:
            break
    assert not streamsee_threads()
    with pytest.raises(KeyError):
        with streamsee.open(clip, mode="segment") as stream:
            for _frame in stream:
                raise KeyError("the caller's own bug")
    assert not streamsee_threads()


def test_presets_and_overrides(media):
    with streamsee.open(media("videos/dog.mp4"), config="fast", working_width=192) as stream:
        assert stream.config.working_width == 192 and stream.config.budget_ms == 100.0
        assert stream.config.mode == "segment"
    with pytest.raises(ValueError, match="working_width"):
        streamsee.open(media("videos/dog.mp4"), working_width=100)
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        streamsee.open("missing.mp4")
    assert not streamsee_threads()


def test_no_source_plays_the_bundled_sample():
    with streamsee.open(mode="segment") as stream:
        assert "sample" in stream.source.description
        frames = [frame for _, frame in zip(range(5), stream)]
    assert len(frames) == 5 and frames[0].image.shape == (480, 640, 3)
    assert not streamsee_threads()
