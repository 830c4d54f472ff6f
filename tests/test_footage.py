"""`streamsee evaluate --footage`: both paths on the real clips and photos in ../shared/media."""

import pytest

from streamsee.evaluation.footage import CLIP_CLASSES, evaluate_footage, render_footage_report

pytestmark = pytest.mark.slow  # real media end to end


@pytest.fixture(scope="module")
def report(media):
    return evaluate_footage(media("."), frames_per_clip=3)


def test_every_clip_is_reported_with_consistent_counts(report):
    assert list(report) == list(CLIP_CLASSES)
    for clip, row in report.items():
        assert row["frames"] == (3 if clip.endswith(".mp4") else 1)  # a photo is one frame
        for mode in ("boxes", "segment"):
            assert sum(row[mode]["top_labels"].values()) <= row["frames"]
            if row["expected"] is None:
                assert "top_is_class" not in row[mode]
                continue
            right = round(row[mode]["top_is_class"] * row["frames"])
            assert 0 <= right <= row[mode]["frames_claimed"] <= row["frames"]
            if row[mode]["frames_claimed"]:
                assert row[mode]["right_when_claimed"] == pytest.approx(right / row[mode]["frames_claimed"], abs=1e-3)
            else:
                assert row[mode]["right_when_claimed"] is None


# Measured 2026-12-01 on 3 frames a clip: both paths right on every one of these photos and on
# every frame of car-turn; the FCN on every frame of dog.mp4, the box path on every flamingo frame.
# Since 2026-12-03 (the objectness FCN at 256 px) the FCN's largest region on horses.jpg is a "dog"
# and on cars_street1.jpg a "truck" (README): the box path alone is pinned there.
BOTH_RIGHT = ("photos/cat_chelsea.png", "photos/cars_street2.jpg", "videos/car-turn.mp4")
BOXES_RIGHT = ("photos/horses.jpg", "photos/cars_street1.jpg", "videos/flamingo.mp4")
SEGMENT_RIGHT = ("photos/dogs_collage.jpg", "photos/dog_bicycle.jpg", "videos/dog.mp4")


@pytest.mark.parametrize("clip", BOTH_RIGHT)
def test_both_paths_name_the_class_of_clear_footage(report, clip):
    for mode in ("boxes", "segment"):
        assert report[clip][mode]["top_is_class"] >= 0.66, (clip, mode, report[clip][mode])


@pytest.mark.parametrize("mode, clip", [("boxes", clip) for clip in BOXES_RIGHT] +
                         [("segment", clip) for clip in SEGMENT_RIGHT])
def test_each_path_names_its_best_clips(report, mode, clip):
    assert report[clip][mode]["top_is_class"] >= 0.66, (clip, mode, report[clip][mode])


def test_clips_with_none_of_the_classes_draw_few_claims(report):
    # measured: the box path 0 to 1.33 boxes a frame, the FCN 0.4 to 2.2 % of the pixels
    for clip in ("negatives/bottles.mp4", "negatives/people_indoor.mp4", "negatives/snowboarder.mp4"):
        assert report[clip]["boxes"]["claims_per_frame"] <= 2.0, report[clip]
        assert report[clip]["segment"]["claimed_area"] <= 0.05, report[clip]


def test_the_report_renders_as_a_table(report, capsys):
    from rich.console import Console

    render_footage_report(report, Console(width=400))
    out = capsys.readouterr().out
    assert "right when claimed" in out and "car-turn.mp4" in out and "100% of 3" in out
