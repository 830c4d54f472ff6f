"""Smoothing over time (live.smoothing): heatmaps averaged, boxes tracked, reset at scene cuts."""

import cv2
import numpy as np
import pytest

from streamsee.core.files import SAMPLE_IMAGE
from streamsee.core.labels import BACKGROUND_ID, NUM_CLASSES
from streamsee.core.result import Result
from streamsee.live.smoothing import BoxTracker, CoarseReuse, HeatmapSmoother, SceneCut, Smoother, check_keep
from streamsee.recognition.outline import Outliner
from streamsee.recognition.segmenter import summarise

CAT, DOG = 3, 5
FRAME = (80, 120, 3)


def heatmap_result(class_id: int | None, share: float = 0.9) -> Result:
    """An FCN-path result on a 10x15 map: the left half one class at `share`, the rest background."""
    probabilities = np.zeros((10, 15, NUM_CLASSES + 1), np.float32)
    probabilities[..., NUM_CLASSES] = 1.0
    labels = np.full((10, 15), BACKGROUND_ID, np.uint8)
    if class_id is not None:
        probabilities[:, :7] = 0
        probabilities[:, :7, class_id] = share
        probabilities[:, :7, NUM_CLASSES] = 1 - share
        labels[:, :7] = class_id
    class_map = Outliner(None)(labels, probabilities[..., NUM_CLASSES], FRAME)
    return summarise(class_map, labels, probabilities)


def box_result(*boxes) -> Result:
    """Boxes given as (x1, y1, x2, y2, class_id, score)."""
    rows = np.array(boxes, np.float32).reshape(-1, 6)
    return Result(rows[:, :4], rows[:, 4].astype(int), rows[:, 5])


def test_heatmap_smoothing_outvotes_one_frame_slip():
    smooth = HeatmapSmoother(keep=0.6)
    first = smooth(heatmap_result(CAT), FRAME)
    assert first.labels == ["cat"] and first.area[0] == pytest.approx(7 / 15, abs=0.03)
    slipped = smooth(heatmap_result(DOG), FRAME)  # one frame says dog: the running vote still says cat
    assert slipped.labels == ["cat"]
    missing = smooth(heatmap_result(None), FRAME)  # a frame that sees nothing: the cat fades, not vanishes
    assert missing.labels == ["cat"] and missing.score[0] < first.score[0]
    for _ in range(3):
        faded = smooth(heatmap_result(None), FRAME)
    assert len(faded) == 0 and faded.class_map.shape == FRAME[:2]


def test_heatmap_smoothing_off_and_reset_give_the_frame_its_own_result():
    result = heatmap_result(DOG)
    assert HeatmapSmoother(keep=0.0)(result, FRAME) is result
    smooth = HeatmapSmoother(keep=0.9)
    smooth(heatmap_result(CAT), FRAME)
    smooth.reset()
    assert smooth(result, FRAME).labels == ["dog"]


def test_box_tracker_confirms_follows_and_drops():
    track = BoxTracker(keep=0.5, confirm=2, max_missed=1)
    assert len(track(box_result((10, 10, 50, 50, CAT, 0.95)))) == 0  # seen once: not shown yet
    shown = track(box_result((12, 10, 52, 50, CAT, 0.97)))  # the same object, moved a little
    assert shown.labels == ["cat"] and shown.xyxy[0, 0] == pytest.approx(11)
    assert shown.score[0] == pytest.approx(0.5 * 0.95 + 0.5 * 0.97)
    slip = track(box_result((12, 10, 52, 50, DOG, 0.95)))  # one frame calls it a dog
    assert slip.labels == ["cat"] and len(slip) == 1
    kept = track(box_result())  # missed once: still shown, fading
    assert kept.labels == ["cat"] and kept.score[0] < slip.score[0]
    assert len(track(box_result())) == 0  # missed twice: gone
    assert len(track(box_result((200, 10, 240, 50, CAT, 0.95)))) == 0  # elsewhere: a new track


def test_box_tracker_off_is_the_frame_itself():
    result = box_result((10, 10, 50, 50, CAT, 0.95))
    assert BoxTracker(keep=0.0)(result) is result


def test_scene_cut_on_new_content_and_size_not_on_noise_or_small_motion():
    photo = cv2.imread(str(SAMPLE_IMAGE))
    cut = SceneCut()
    assert cut(photo)  # the first frame
    rng = np.random.default_rng(0)
    assert not cut(np.clip(photo + rng.normal(0, 8, photo.shape), 0, 255).astype(np.uint8))  # sensor noise
    assert not cut(np.roll(photo, 6, axis=1))  # the camera pans a little
    assert cut(255 - photo)  # another picture: its negative
    assert cut(cv2.resize(photo, (320, 240)))  # another size


def test_smoother_resets_each_path_at_a_cut():
    smoother = Smoother(keep=0.6)
    frame = np.zeros(FRAME, np.uint8)
    smoother(frame, "boxes", box_result((10, 10, 50, 50, CAT, 0.95)), new_scene=True)
    assert len(smoother(frame, "boxes", box_result((10, 10, 50, 50, CAT, 0.95)), new_scene=False)) == 1
    assert len(smoother(frame, "boxes", box_result((10, 10, 50, 50, CAT, 0.95)), new_scene=True)) == 0


@pytest.mark.parametrize("bad", [-0.1, 1.0, 2, True, "0.5", float("nan")])
def test_bad_smoothing_is_refused_quoting_it(bad):
    with pytest.raises(ValueError, match="smoothing must be"):
        check_keep(bad)


class CountingSegmenter:
    """Stands in for recognition.Segmenter: a coarse map per call, numbered."""

    def __init__(self):
        self.made = 0

    def map_shape(self, frame_shape):
        return frame_shape[0] // 8, frame_shape[1] // 8

    def coarse_map(self, frame):
        self.made += 1
        return np.full((*self.map_shape(frame.shape), NUM_CLASSES + 1), self.made, np.float32)


def test_coarse_level_made_every_third_frame_and_afresh_at_a_cut_or_new_size():
    smoother, segmenter = Smoother(0.6), CountingSegmenter()
    frame, wide = np.zeros(FRAME, np.uint8), np.zeros((80, 160, 3), np.uint8)
    maps = [smoother.coarse_map(segmenter, frame, new_scene=False)[0, 0, 0] for _ in range(7)]
    assert maps == [1, 1, 1, 2, 2, 2, 3]  # made, reused twice, made ...
    assert smoother.coarse_map(segmenter, frame, new_scene=True)[0, 0, 0] == 4  # a cut: made afresh
    assert smoother.coarse_map(segmenter, wide, new_scene=False).shape[:2] == (10, 20)  # another size: afresh
    assert segmenter.made == 5
    smoother.reset()
    assert smoother.coarse_map(segmenter, frame, new_scene=False)[0, 0, 0] == 6
    every_other = CoarseReuse(2)
    assert [every_other(segmenter, frame)[0, 0, 0] for _ in range(3)] == [7, 7, 8]
    assert Smoother(0.0).coarse_map(segmenter, frame, new_scene=False) is None  # smoothing off: each frame its own


def test_segmenter_takes_a_coarse_map_made_beforehand():
    from streamsee.recognition.segmenter import Segmenter

    frame = cv2.imread(str(SAMPLE_IMAGE))
    with Segmenter() as segment:
        coarse = segment.coarse_map(frame)
        assert coarse.shape[:2] == segment(frame).probabilities.shape[:2] == segment.map_shape(frame.shape)
        np.testing.assert_array_equal(segment(frame, coarse=coarse).class_map, segment(frame).class_map)
        with pytest.raises(ValueError, match="coarse map"):
            segment(frame, coarse=coarse[1:])
