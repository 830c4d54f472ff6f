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


# ---------------------------------------------------------------- sizes grow with the frame (issue 29)


def rows_with(image: np.ndarray, colour) -> np.ndarray:
    """Indices of the rows holding a pixel of exactly `colour`."""
    return np.flatnonzero((distance_to(image, colour) == 0).any(axis=1))


def box_tag_height(height: int, width: int) -> tuple[int, int]:
    """(tag height, box line width) of a cat box drawn in the middle of a black frame, measured down
    a column through the tag, the box's top edge and its bottom edge."""
    frame = np.zeros((height, width, 3), np.uint8)
    y1, x1 = height // 2, width // 4
    result = Result(xyxy=[[x1, y1, width // 2, height * 3 // 4]], class_id=[CAT], score=[0.9])
    out = BoxAnnotator().annotate(frame, result)
    rows = rows_with(out[:, x1 + width // 64:x1 + width // 64 + 1], CLASS_COLOURS[CAT])
    runs = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)  # the tag (its text cuts it) and top edge,
    line = len(runs[-1])  # then the bottom edge
    return runs[-2][-1] - runs[0][0] + 1 - line, line


def test_scale_for_is_one_up_to_720_and_grows_beyond():
    from streamsee.render.drawing import scale_for

    assert scale_for(np.zeros((120, 160, 3), np.uint8)) == 1.0
    assert scale_for(np.zeros((720, 1280, 3), np.uint8)) == 1.0
    assert scale_for(np.zeros((6000, 8000, 1), np.uint8)) == pytest.approx(6000 / 720)


def test_box_labels_grow_on_a_large_frame_and_stay_as_they_were_on_small_ones():
    small_tag, small_line = box_tag_height(480, 640)
    assert small_tag == tag_size("cat 0.90")[1] and small_line <= 3  # the fixed sizes of before (thickness 2)
    assert box_tag_height(720, 1280) == (small_tag, small_line)
    big_tag, big_line = box_tag_height(6000, 8000)
    assert big_tag >= 7 * small_tag and big_line >= 7 * 2  # 8000x6000 draws 8.3 times larger


def hud_rows(height: int, width: int) -> np.ndarray:
    from streamsee.core.snapshot import Snapshot
    from streamsee.render.drawing import HudAnnotator

    path = Snapshot(1.0, 2.0, 3.0, 4.0, 5.0, {"analyse": 3.0}, 1, 1, 0, 0)
    snapshot = Snapshot(10.0, 9.0, 30.0, 40.0, 50.0, {"decode": 1.0, "analyse": 3.0}, 10, 9, 1, 0, {"boxes": path})
    out = HudAnnotator().annotate(np.zeros((height, width, 3), np.uint8), snapshot)
    return np.flatnonzero(out.any(axis=(1, 2)))


def test_the_hud_grows_on_a_large_frame_and_stays_as_it_was_on_small_ones():
    line = tag_size("Ay", 0.45)[1]
    small = hud_rows(480, 640)
    assert small[0] == 480 - 4 * line - 4 and small[-1] == 480 - 4 - 1  # four lines from (4, h - 4 lines - 4)
    big = hud_rows(6000, 8000)
    assert big[-1] - big[0] + 1 >= 7 * 4 * line and big[-1] < 6000 - 4


def test_titles_and_legend_grow_on_a_large_frame():
    big = np.full((2160, 3840, 3), GREY, np.uint8)  # 4K: three times the sizes
    titled = side_by_side(big, big)
    assert len(np.flatnonzero((titled[:, :3840] != GREY).any(axis=(1, 2)))) >= 3 * tag_size("boxes", 0.6, 1, 4)[1] - 3
    result = Result(xyxy=[[50, 40, 110, 80]], class_id=[CAT], score=[0.95], probabilities=cat_probabilities(0.95))
    small_legend = rows_with(HeatmapAnnotator().annotate(grey_frame(480, 640), result)[:, -100:], CLASS_COLOURS[CAT])
    big_legend = rows_with(HeatmapAnnotator().annotate(big, result)[:, -300:], CLASS_COLOURS[CAT])
    assert len(big_legend) >= 2.5 * len(small_legend) > 0  # the swatch
