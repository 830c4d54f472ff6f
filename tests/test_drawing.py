"""Drawers: boxes with tags, the probability heatmap with its legend, side-by-side frames."""

from __future__ import annotations

import numpy as np
import pytest

from streamsee.core.labels import BACKGROUND_ID, CLASSES
from streamsee.core.result import Result
from streamsee.render.drawing import (
    CLASS_COLOURS,
    BoxAnnotator,
    HeatmapAnnotator,
    put_tag,
    side_by_side,
    tag_size,
    text_colour,
)

CAT = CLASSES.index("cat")
GREY = 100


def grey_frame(height: int = 120, width: int = 160) -> np.ndarray:
    return np.full((height, width, 3), GREY, np.uint8)


def cat_probabilities(probability: float, shape: tuple[int, int] = (30, 40)) -> np.ndarray:
    """Background everywhere except a cat block (rows 8..22, cols 10..30) at `probability`."""
    probabilities = np.zeros((*shape, len(CLASSES) + 1), np.float32)
    probabilities[..., -1] = 1.0
    probabilities[8:22, 10:30, CAT] = probability
    probabilities[8:22, 10:30, -1] = 1.0 - probability
    return probabilities


def distance_to(pixels: np.ndarray, colour) -> np.ndarray:
    return np.abs(pixels.astype(np.int32) - np.array(colour)).sum(axis=-1)


def test_palette_has_one_distinct_bgr_colour_per_class():
    assert len(CLASS_COLOURS) == len(CLASSES)
    assert len(set(CLASS_COLOURS)) == len(CLASSES)
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in CLASS_COLOURS)


def test_text_colour_contrasts():
    assert text_colour((255, 255, 255)) == (0, 0, 0)
    assert text_colour((0, 0, 0)) == (255, 255, 255)


def test_put_tag_draws_inside_the_frame():
    frame = grey_frame()
    put_tag(frame, "cat 0.91", (150, -5), (0, 0, 255))
    width, height = tag_size("cat 0.91")
    tag = frame[:height, 160 - width:]
    assert (distance_to(tag, (0, 0, 255)) == 0).mean() > 0.5  # mostly tag colour, some text
    assert (frame[height:] == GREY).all() and (frame[:, :160 - width] == GREY).all()


def test_boxes_drawn_in_class_colour_with_tag_above():
    frame = grey_frame()
    before = frame.copy()
    result = Result(xyxy=np.array([[10.4, 40, 110, 90.4]]), class_id=[CAT], score=[0.9])
    out = BoxAnnotator().annotate(frame, result)
    assert np.array_equal(frame, before)
    assert out.shape == frame.shape and out.dtype == frame.dtype
    colour = CLASS_COLOURS[CAT]
    for y, x in [(90, 60), (65, 10), (65, 110)]:  # bottom, left and right edges
        assert tuple(out[y, x]) == colour
    assert (out[65, 60] == GREY).all()  # inside the box untouched
    above = out[20:38, 10:60]  # where the "cat 0.90" tag goes
    assert (distance_to(above, colour) == 0).sum() > 200
    assert (out[:15] == GREY).all()  # nothing far above the tag


@pytest.mark.parametrize("top", [0, 10])
def test_tag_goes_inside_when_no_room_above(top):
    result = Result(xyxy=[[20, top, 120, 100]], class_id=[1], score=[0.5])
    out = BoxAnnotator().annotate(grey_frame(), result)
    assert (out[:max(top - 1, 0)] == GREY).all()  # nothing above the box (a 2 px edge spans y-1..y)
    tag = out[top + 2:top + 2 + tag_size("automobile 0.50")[1] - 2, 22:100]
    assert (distance_to(tag, CLASS_COLOURS[1]) == 0).mean() > 0.5


def test_empty_result_draws_nothing():
    frame = grey_frame()
    empty = Result()
    for annotator in (BoxAnnotator(), HeatmapAnnotator()):
        out = annotator.annotate(frame, empty)
        assert out is not frame and np.array_equal(out, frame)
    probabilities = np.zeros((30, 40, 11), np.float32)
    probabilities[..., -1] = 1.0
    out = HeatmapAnnotator().annotate(frame, Result(probabilities=probabilities))
    assert np.array_equal(out, frame)


def test_heatmap_tints_confident_region_and_leaves_background():
    frame = grey_frame()
    before = frame.copy()
    annotator = HeatmapAnnotator(alpha=0.6, legend=False)
    out = annotator.annotate(frame, Result(probabilities=cat_probabilities(0.95)))
    assert np.array_equal(frame, before)
    assert out.shape == frame.shape and out.dtype == frame.dtype
    inside, outside = out[40:80, 50:110], np.concatenate([out[:20].reshape(-1, 3), out[100:].reshape(-1, 3)])
    expected = np.rint(GREY * (1 - 0.57) + np.array(CLASS_COLOURS[CAT]) * 0.57)
    assert np.abs(inside.astype(int) - expected).max() <= 1
    assert np.abs(outside.astype(int) - GREY).max() <= 1

    weak = annotator.annotate(frame, Result(probabilities=cat_probabilities(0.3)))[40:80, 50:110]
    cat = CLASS_COLOURS[CAT]
    assert (distance_to(inside, cat) < distance_to(weak, cat)).all()
    assert (distance_to(weak, cat) < distance_to(frame[40:80, 50:110], cat)).all()


def test_heatmap_uses_class_map_where_given():
    frame = grey_frame()
    probabilities = cat_probabilities(0.95)
    probabilities[..., 0] = 0.4  # some airplane everywhere: the class map must still win
    class_map = np.full(frame.shape[:2], BACKGROUND_ID, np.uint8)
    class_map[40:60, 50:110] = CAT  # only the top half of the cat block
    out = HeatmapAnnotator(legend=False).annotate(frame, Result(class_map=class_map, probabilities=probabilities))
    assert (out[45:55, 60:100] != GREY).any(axis=2).all()
    assert (out[65:80, 60:100] == GREY).all()  # cat probability but background in the class map
    assert (out[:30] == GREY).all()  # airplane probability but background in the class map


def test_no_probabilities_returns_copy():
    frame = grey_frame()
    class_map = np.full(frame.shape[:2], CAT, np.uint8)
    out = HeatmapAnnotator().annotate(frame, Result(class_map=class_map))
    assert out is not frame and np.array_equal(out, frame)


@pytest.mark.parametrize("legend", [True, False])
def test_legend_only_when_asked(legend):
    frame = grey_frame()
    result = Result(xyxy=[[50, 40, 110, 80]], class_id=[CAT], score=[0.95], probabilities=cat_probabilities(0.95))
    out = HeatmapAnnotator(legend=legend).annotate(frame, result)
    corner = out[:30, -60:]  # top-right, clear of the cat block
    assert (corner != GREY).any() == legend
    if legend:
        assert (distance_to(corner, CLASS_COLOURS[CAT]) == 0).any()  # the swatch
        assert (corner < GREY).any(axis=2).mean() > 0.3  # the dark backing


def test_heatmap_rejects_bad_legend_corner():
    with pytest.raises(ValueError):
        HeatmapAnnotator(legend_corner="middle")


def test_side_by_side_places_frames_and_titles():
    left, right = grey_frame(), np.full((120, 160, 3), 200, np.uint8)
    left_before, right_before = left.copy(), right.copy()
    out = side_by_side(left, right)
    assert np.array_equal(left, left_before) and np.array_equal(right, right_before)
    assert out.shape == (120, 320, 3) and out.dtype == np.uint8
    assert (out[:20, :60] != GREY).any() and (out[:20, 160:220] != 200).any()  # the title tags
    below = 4 + tag_size("segment", 0.6, 1, padding=4)[1]  # titles are tags at (4, 4)
    assert tag_size("boxes", 0.6, 1, padding=4)[1] == below - 4  # one height with or without descenders
    assert (out[below:, :160] == GREY).all() and (out[below:, 160:] == 200).all()
    untitled = side_by_side(left, right, titles=("", ""))
    assert np.array_equal(untitled, np.hstack([left, right]))


def test_side_by_side_rejects_mismatched_frames():
    with pytest.raises(ValueError):
        side_by_side(grey_frame(), grey_frame(100, 160))
