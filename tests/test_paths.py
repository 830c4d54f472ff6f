"""Both recognition paths on real frames: output contracts, and quality on held-out scenes."""

import cv2
import numpy as np
import pytest

from streamsee.core.files import SAMPLE_IMAGE
from streamsee.core.labels import BACKGROUND_ID, NUM_CLASSES
from streamsee.evaluation.scenes import evaluate_boxes, evaluate_fcn, make_scenes
from streamsee.recognition.boxes import LARGE_BOXES, BoxDetector
from streamsee.recognition.fcn import ScoreMap
from streamsee.recognition.outline import MAP_OFFSET, Outliner
from streamsee.recognition.regions import ObjectFinder, RegionNamer, split_regions
from streamsee.recognition.segmenter import Segmenter, peak_probability
from streamsee.recognition.windows import WindowScores, grid_windows

# What the shipped models achieve on these 24 held-out scenes (seed 0), minus a margin. The issue's
# targets (mIoU >= 0.60, box recall >= 0.70 with <= 1 false box per frame) are higher for the FCN;
# the README gives the measured distance. Measured here: FCN mIoU 0.612 (0.627 on all 200 scenes)
# with the outline from the objectness FCN at 256 px, 0.591 with each map cell's label; before that
# (objectness FCN at 160 px) 0.501 (0.545 on all 200 scenes);
# 0.549 and 0.524 with the new objectness FCN before regions were split; 0.493 and 0.480 with the
# objectness FCN of 2026-12-02's first session, 0.246 and 0.241 before it; 24 scenes are noisy);
# box path with the fine-tuned box model: recall 0.750 with dlib at 0.92 false boxes per frame
# (0.720 at 0.83 on all 200), 0.667 with boundieboxies at 0.79 (0.683 at 1.00 on all 200).
# Since 2026-12-07 the objectness FCN is off by default (it claimed more on real footage without the
# classes): the default FCN path gives 0.223 on these scenes, 0.219 on all 200; with the objectness FCN
# (--objectness-width 256) as before. With the class FCN at 128 px (2026-12-07, third session): on all 200
# scenes 0.232 by default, 0.455 with the objectness FCN.
FCN_MIOU_FLOOR = {"default": 0.20, "objectness FCN on": 0.59}
BOX_RECALL_FLOOR = {"boundieboxies": 0.62, "dlib": 0.69}
FALSE_BOXES_CEILING = {"boundieboxies": 1.2, "dlib": 1.3}


@pytest.fixture(scope="module")
def scenes(cifar_path, media):
    return make_scenes(cifar_path, 24, media("negatives"), seed=0)


def test_segmenter_contract(scenes):
    frame = scenes[0].image
    with Segmenter() as segment:
        result = segment(frame)
        assert segment.working_size((480, 640)) == (96, 128)
    assert result.class_map.shape == frame.shape[:2] and result.class_map.dtype == np.uint8
    assert set(np.unique(result.class_map)) <= set(range(10)) | {BACKGROUND_ID}
    np.testing.assert_allclose(result.probabilities.sum(axis=2), 1.0, atol=1e-4)
    assert result.probabilities.shape == (48, 64, 11)
    assert sorted(result.class_id.tolist()) == sorted(set(np.unique(result.class_map)) - {BACKGROUND_ID})
    for (x1, y1, x2, y2), class_id, area in zip(result.xyxy, result.class_id, result.area):
        inside = result.class_map[int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))] == class_id
        assert inside.sum() == pytest.approx((result.class_map == class_id).sum(), rel=0.01)
        assert area == pytest.approx((result.class_map == class_id).mean(), rel=0.05)


def test_segmenter_settings_and_close():
    # each step checks its own settings
    with pytest.raises(ValueError, match="working_width"):
        ScoreMap(working_width=100)
    with pytest.raises(ValueError, match="working_width"):
        Segmenter.at_widths(working_width=100)
    with pytest.raises(ValueError, match="max_background must be in \\(0, 1\\], got 1.5"):
        ObjectFinder(max_background=1.5)
    with pytest.raises(ValueError, match="class_max_background must be in \\(0, 1\\], got 0"):
        ObjectFinder(class_max_background=0)
    with pytest.raises(ValueError, match="split_background must be in \\[0, 1\\] \\(0: regions never split\\), got -0.1"):
        RegionNamer(split_background=-0.1)
    with pytest.raises(ValueError, match="objectness_width must be a multiple of 8 and at least 32, got 20"):
        ObjectFinder(objectness_width=20)
    with pytest.raises(ValueError, match="objectness_width must be a multiple of 8 and at least 32, got 20"):
        Segmenter.at_widths(objectness_width=20)
    with pytest.raises(ValueError, match="outline_background must be in \\(0, 1\\], or None .*got 0"):
        Outliner(0)
    with pytest.raises(ValueError, match="naming_opening must be a whole number of map cells, 0 or more .* got 2.5"):
        RegionNamer(naming_opening=2.5)
    with pytest.raises(ValueError, match="min_score must be in \\[0, 1\\), got 1.0"):
        Segmenter(min_score=1.0)
    assert Segmenter.at_widths(96, 128).working_size((480, 640)) == (72, 96)
    segment = Segmenter()
    segment.close()
    segment.close()
    with pytest.raises(ValueError, match="closed"):
        segment(np.zeros((48, 64, 3), np.uint8))


def test_fcn_regions_are_named_whole(scenes):
    # Object pixels come from the FCN's background probability; each connected region (unsplit
    # here) gets one class from the region model on its box (the box model drops those it calls
    # background).
    import cv2

    from streamsee.recognition.classifier import DEFAULT_MODEL

    frame = next(scene.image for scene in scenes if len(scene.class_id) >= 2)
    # each map cell's label at the frame's size (outline_background=None): naming, not the outline
    # (one level, every region kept: naming alone differs)
    one_level = {"outliner": Outliner(None), "coarse": False, "min_score": 0.0}
    with Segmenter(**one_level) as named, \
            Segmenter(namer=RegionNamer(DEFAULT_MODEL, split_background=0), **one_level) as no_background, \
            Segmenter(namer=RegionNamer(None), **one_level) as per_pixel:
        by_box_model, by_classifier, by_pixel = named(frame), no_background(frame), per_pixel(frame)
    claimed = by_classifier.class_map != BACKGROUND_ID
    assert claimed.any()
    count, regions = cv2.connectedComponents(claimed.astype(np.uint8), connectivity=4)
    for region in range(1, count):
        assert len(np.unique(by_classifier.class_map[regions == region])) == 1
    assert ((by_box_model.class_map != BACKGROUND_ID) <= claimed).all()  # dropped, never added
    assert ((by_pixel.class_map != BACKGROUND_ID) == claimed).mean() > 0.99  # the same object pixels
    np.testing.assert_allclose(by_classifier.probabilities.sum(axis=2), 1.0, atol=1e-4)


def test_the_class_fcn_claims_only_where_it_is_sure(scenes):
    # The frozen FCN's own claims need its background probability under class_max_background; the
    # objectness FCN's claims come on top, the same at every setting.
    frame = next(scene.image for scene in scenes if len(scene.class_id) >= 2)
    masks = []
    for threshold in (0.05, 0.3, 1.0):
        with ScoreMap() as scores, ObjectFinder(class_max_background=threshold) as find:
            working = scores.shrink(frame)
            probabilities = scores(working)
            objects, background, outline = find(frame, working, probabilities)
            masks.append(objects)
            assert outline.shape == (96, 128)  # the objectness FCN's own map (at its working width)
        with ObjectFinder(None, class_max_background=threshold) as alone:
            own, _, _ = alone(frame, working, probabilities)
        likeliest = probabilities[..., :NUM_CLASSES].max(axis=2) > probabilities[..., NUM_CLASSES]
        np.testing.assert_array_equal(own, likeliest & (probabilities[..., NUM_CLASSES] < threshold))
        assert (own <= objects).all()
    assert (masks[0] <= masks[1]).all() and (masks[1] <= masks[2]).all()
    assert masks[0].sum() < masks[2].sum()  # the class FCN claims something the objectness FCN does not


def test_a_tie_with_background_is_no_claim():
    # The int8 FCN's logits are quantised, so a class and background often tie exactly: no claim.
    probabilities = np.full((2, 3, NUM_CLASSES + 1), 0.02, np.float32)
    probabilities[..., NUM_CLASSES] = 0.4
    probabilities[0, 0, 3] = 0.4   # tie
    probabilities[0, 1, 3] = 0.41  # a class likelier than background
    frame = np.zeros((8, 12, 3), np.uint8)
    with ObjectFinder(None) as find:
        own, background, outline = find(frame, frame[None], probabilities)
    np.testing.assert_array_equal(own, [[False, True, False], [False, False, False]])
    np.testing.assert_array_equal(background, probabilities[..., NUM_CLASSES])
    np.testing.assert_array_equal(outline, background)  # no objectness FCN: the class FCN's outline


def test_the_outline_follows_the_objectness_map_finer_than_its_cells():
    labels = np.full((10, 10), BACKGROUND_ID, np.uint8)
    labels[4:6, 4:6] = 3          # a named region of 2x2 cells
    labels[1:3, 7:9] = 5          # one the outline map does not see at all (the class FCN's alone)
    outline = np.ones((10, 10), np.float32)
    outline[3:7, 3:7] = 0.0       # the object is a cell wider all round than its region ...
    outline[5, 5] = 1.0           # ... but for one cell
    class_map = Outliner()(labels, outline, (80, 80, 3))
    np.testing.assert_array_equal(Outliner(None)(labels, outline, (80, 80, 3)),
                                  cv2.resize(labels, (80, 80), interpolation=cv2.INTER_NEAREST))

    def at(row, col):  # the frame pixel at a cell's centre, where the map lies on the frame
        return class_map[int(8 * (row + 0.5 + MAP_OFFSET)), int(8 * (col + 0.5 + MAP_OFFSET))]

    assert at(4, 4) == at(4, 5) == at(5, 4) == 3
    assert at(3, 4) == at(4, 6) == at(6, 5) == 3     # grown a cell where the outline says object
    assert at(3, 3) == BACKGROUND_ID                 # diagonal: more than a cell from the region
    assert at(5, 5) == BACKGROUND_ID                 # inside the region, but the outline says background
    assert at(2, 4) == at(4, 8) == BACKGROUND_ID     # the outline says background
    assert at(1, 7) == at(2, 8) == 5 and at(0, 7) == at(1, 6) == BACKGROUND_ID  # a faint region keeps its cells
    # between cell centres the outline is bilinear: the edge falls between cells, not on their borders
    edge = class_map[int(8 * (4.5 + MAP_OFFSET)), :] == 3
    assert 8 * (2.5 + MAP_OFFSET) < np.argmax(edge) < 8 * (3.5 + MAP_OFFSET)


def test_a_region_is_named_from_its_body_not_its_spurs():
    # a 20x20 body with a 2-cell-thin spur 25 cells long: the spur would stretch the crop over background
    region = np.zeros((40, 60), bool)
    region[10:30, 5:25] = True
    region[19:21, 25:50] = True
    with RegionNamer() as opened, RegionNamer(naming_opening=0) as whole:
        assert opened.naming_box(region, min_pixels=10) == (5, 10, 25, 30)
        assert whole.naming_box(region, min_pixels=10) == (5, 10, 50, 30)
        # too little left once opened (a thin region): its whole box
        line = np.zeros((40, 60), bool)
        line[5, 3:40] = True
        assert opened.naming_box(line, min_pixels=10) == (3, 5, 40, 6)


def test_regions_split_between_their_cores():
    # two sure squares joined by a bridge of less sure pixels: one region, two cores
    objects = np.zeros((40, 60), bool)
    objects[10:30, 5:25] = objects[10:30, 35:55] = objects[18:22, 25:35] = True
    sure = np.zeros_like(objects)
    sure[12:28, 7:23] = sure[12:28, 37:53] = True
    sure[20, 30] = True  # a core too small to count
    count, components = cv2.connectedComponents(objects.astype(np.uint8), connectivity=4)
    assert count == 2
    split_count, split = split_regions(components, count, sure, min_pixels=20)
    assert split_count == 3
    left, right = split[20, 10], split[20, 50]
    assert {left, right} == {1, 2} and (split > 0).sum() == objects.sum()  # no pixel lost or added
    assert (split[:, :30][objects[:, :30]] == left).all() and (split[:, 31:][objects[:, 31:]] == right).all()
    # one core a region (or none): nothing changes
    _, unchanged = split_regions(components, count, sure & (np.arange(60) < 30), min_pixels=20)
    np.testing.assert_array_equal(unchanged, components)


def test_box_detector_contract(scenes):
    frame = scenes[0].image
    with BoxDetector(min_score=0.0) as detect:
        result = detect(frame)
    assert len(result) > 0
    assert (result.xyxy[:, 0] >= 0).all() and (result.xyxy[:, 2] <= frame.shape[1]).all()
    assert (np.diff(result.score) <= 0).all()  # best first


def test_box_detector_classifies_at_most_max_proposals(scenes):
    """The large boxes, then the method's likeliest proposals: max_proposals crops in all are classified."""
    frame = scenes[0].image
    with BoxDetector(min_score=0.0, max_proposals=len(LARGE_BOXES) + 5) as detect:
        proposals = detect.propose(frame)
        classified = []
        classify = detect.classify_boxes
        detect.classify_boxes = lambda image, boxes: classified.append(boxes) or classify(image, boxes)
        result = detect.detect(frame, proposals)
    assert len(proposals) > 5 and len(classified) == 1
    height, width = frame.shape[:2]
    large = LARGE_BOXES * np.float32([width, height, width, height])  # the whole frame and five large boxes first
    np.testing.assert_array_equal(classified[0], np.concatenate([large, proposals[:5]]))
    assert 0 < len(result) <= 5 + len(LARGE_BOXES)


def test_box_detector_names_a_frame_filling_object_with_no_proposals():
    """The bundled cat photo, the cat filling it: the large boxes alone find it."""
    photo = cv2.imread(str(SAMPLE_IMAGE))
    with BoxDetector() as detect:
        result = detect.detect(photo, np.zeros((0, 4), np.float32))
    assert result.labels[:1] == ["cat"]


@pytest.mark.parametrize("proposals", ["boundieboxies", "dlib"])
def test_box_path_on_held_out_scenes(scenes, proposals):
    with BoxDetector(proposals=proposals) as detect:
        report = evaluate_boxes(scenes, detect)
    assert report["recall"] >= BOX_RECALL_FLOOR[proposals]
    assert report["false_boxes_per_frame"] <= FALSE_BOXES_CEILING[proposals]


@pytest.mark.parametrize("setting", list(FCN_MIOU_FLOOR))
def test_fcn_on_held_out_scenes(scenes, setting):
    with Segmenter.at_widths(objectness_width=256 if setting == "objectness FCN on" else None) as segment:
        report = evaluate_fcn(scenes, segment)
    assert report["miou"] >= FCN_MIOU_FLOOR[setting]


def test_regions_under_min_score_are_dropped(scenes):
    frame = next(scene.image for scene in scenes if len(scene.class_id) >= 2)
    with Segmenter(min_score=0.0) as every, Segmenter(min_score=0.5) as sure:
        all_regions, kept = every(frame), sure(frame)
    assert len(all_regions) > len(kept) or (all_regions.score >= 0.5).all()
    assert (kept.score >= 0.5).all()
    np.testing.assert_array_equal(np.sort(kept.class_id), np.sort(all_regions.class_id[all_regions.score >= 0.5]))
    unsure = np.isin(all_regions.class_map, all_regions.class_id[all_regions.score < 0.5])
    assert (kept.class_map[unsure] == BACKGROUND_ID).all()


def test_region_peak_is_at_least_its_mean(scenes):
    with Segmenter(objects=ObjectFinder(max_background=0.5)) as segment:
        result = segment(scenes[1].image)
    assert len(result) > 0
    peaks = peak_probability(result)
    assert peaks.shape == result.score.shape
    assert (peaks >= result.score - 1e-6).all() and (peaks <= 1.0).all()


def test_grid_windows_cover_the_frame_at_three_levels():
    windows = grid_windows((480, 640, 3))
    assert windows.shape == (1 + 4 + 9, 4)
    np.testing.assert_array_equal(windows[0], [0, 0, 640, 480])
    for first, count in ((1, 4), (5, 9)):  # each grid reaches every edge
        level = windows[first:first + count]
        assert level[:, 0].min() == 0 and level[:, 1].min() == 0
        assert level[:, 2].max() == pytest.approx(640) and level[:, 3].max() == pytest.approx(480)


def test_window_scores_claim_the_frame_filling_cat():
    """The bundled photo, the cat filling it: the coarse level names cat cells the class FCN alone calls background."""
    photo = cv2.imread(str(SAMPLE_IMAGE))
    with WindowScores() as windows:
        cells = windows(photo, (30, 45))
    assert cells.shape == (30, 45, NUM_CLASSES + 1)
    np.testing.assert_allclose(cells.sum(axis=2), 1, atol=1e-4)
    claimed = cells.argmax(axis=2)
    assert (claimed == 3).mean() > 0.5  # cat
