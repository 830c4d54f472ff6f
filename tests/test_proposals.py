"""Region proposals: the box contract, recall on a synthetic scene, empty frames, many objects."""

import cv2
import numpy as np
import pytest
from skimage import data

from streamsee.recognition.boundieboxies import ClusterSettings, PointSettings, TreeSettings, snap_to_edges
from streamsee.recognition.proposals import (
    PROPOSAL_METHODS,
    BoundieBoxies,
    DlibProposals,
    box_iou,
    make_proposals,
    recall,
    suppress_duplicates,
    unique_rows,
)

# Recall (IoU >= 0.5) of the pasted patches in `scene(8)`, measured at 1.0 for both methods
# with the default settings, less a margin.
RECALL_FLOOR = {"boundieboxies": 0.75, "dlib": 0.75}


def scene(n: int, seed: int = 0, size: tuple[int, int] = (480, 640)) -> tuple[np.ndarray, np.ndarray]:
    """A noisy grey BGR frame with `n` photo patches pasted one per grid cell, and their boxes."""
    rng = np.random.default_rng(seed)
    height, width = size
    frame = np.clip(rng.normal(128, 4, (height, width, 3)), 0, 255).astype(np.uint8)
    photos = [cv2.cvtColor(p, cv2.COLOR_RGB2BGR) for p in (data.chelsea(), data.astronaut(), data.coffee(), data.rocket())]
    cols = int(np.ceil(np.sqrt(n * width / height)))
    cell_h, cell_w = height // int(np.ceil(n / cols)), width // cols
    truth = []
    for cell in rng.permutation(int(np.ceil(n / cols)) * cols)[:n]:
        row, col = divmod(int(cell), cols)
        h, w = int(cell_h * rng.uniform(0.5, 0.75)), int(cell_w * rng.uniform(0.5, 0.75))
        y, x = row * cell_h + rng.integers(0, cell_h - h + 1), col * cell_w + rng.integers(0, cell_w - w + 1)
        photo = photos[rng.integers(len(photos))]
        top, left = rng.integers(0, photo.shape[0] // 2), rng.integers(0, photo.shape[1] // 2)
        crop = photo[top:top + photo.shape[0] // 2, left:left + photo.shape[1] // 2]
        frame[y:y + h, x:x + w] = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
        truth.append([x, y, x + w, y + h])
    return frame, np.array(truth, np.float32)


def assert_valid_boxes(boxes: np.ndarray, frame: np.ndarray) -> None:
    height, width = frame.shape[:2]
    assert boxes.dtype == np.float32 and boxes.ndim == 2 and boxes.shape[1] == 4
    assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
    assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2] <= width) and np.all(boxes[:, 3] <= height)


@pytest.fixture(scope="module")
def eight_objects():
    return scene(8)


@pytest.mark.parametrize("name", PROPOSAL_METHODS)
def test_boxes_are_valid_and_find_the_objects(name, eight_objects):
    frame, truth = eight_objects
    boxes = make_proposals(name)(frame)
    assert_valid_boxes(boxes, frame)
    assert recall(boxes, truth) >= RECALL_FLOOR[name]


@pytest.mark.parametrize("name", PROPOSAL_METHODS)
def test_boxes_map_back_to_frame_coordinates(name):
    """A frame bigger than the working size: boxes come back in its pixels, not the working ones."""
    frame, truth = scene(6, seed=3, size=(960, 1280))
    boxes = make_proposals(name)(frame)
    assert_valid_boxes(boxes, frame)
    assert recall(boxes, truth) >= 0.6


@pytest.mark.parametrize("name", PROPOSAL_METHODS)
@pytest.mark.parametrize("frame", [np.full((480, 640, 3), 77, np.uint8), np.zeros((0, 0, 3), np.uint8),
                                   np.full((240, 320), 200, np.uint8), np.zeros((2, 3, 3), np.uint8)],
                         ids=["uniform", "empty", "uniform-grey", "tiny"])
def test_featureless_frames_give_no_boxes(name, frame):
    boxes = make_proposals(name)(frame)
    assert boxes.dtype == np.float32 and boxes.shape == (0, 4)


def test_boundieboxies_k_follows_the_number_of_objects():
    proposer = BoundieBoxies()
    few_frame, few_truth = scene(5)
    many_frame, many_truth = scene(600)
    few, many = proposer(few_frame), proposer(many_frame)
    assert_valid_boxes(many, many_frame)
    assert len(many) > 5 * len(few)
    assert len(many) >= len(many_truth) // 2
    assert recall(many, many_truth) >= 0.28  # measured 0.31 (0.46 before K-means fitted every fourth point and
    # sides snapped further, 2026-12-01): about a third of the 600 get a box of their own; dlib's finds 2 %


def test_grouping_joins_neighbouring_clusters():
    """Two clusters that split one object, and one far away: each tree joins the halves first."""
    clusters = np.array([[0, 0, 10, 20], [10, 0, 20, 20], [100, 100, 110, 110]], np.float32)
    colours = np.zeros((3, 3))
    for linkage in ("ward", "single", "complete", "average"):
        nodes = BoundieBoxies(trees=TreeSettings(((linkage, 0.0),))).grouped(clusters, colours)
        assert nodes.dtype == np.float32 and nodes.shape == (5, 4)
        np.testing.assert_array_equal(nodes[:3], clusters)
        np.testing.assert_array_equal(nodes[3], [0, 0, 20, 20])
        np.testing.assert_array_equal(nodes[4], [0, 0, 110, 110])
    assert BoundieBoxies().grouped(clusters, colours).shape == (3 + 4 * 2, 4)  # each of the four trees adds its joins
    assert BoundieBoxies().grouped(clusters[:2], colours[:2]).shape == (2, 4)  # too few to group


def test_colour_trees_join_clusters_of_one_colour_first():
    """Three clusters in a row, evenly spaced: by position alone the first join is a tie; with
    colour, the two of one colour join first, whichever they are."""
    clusters = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], np.float32)
    colours = np.array([[200, 128, 128], [60, 128, 128], [60, 128, 128]], np.float64)  # Lab: light, dark, dark
    first_join = BoundieBoxies(trees=TreeSettings((("ward", 2.0),))).grouped(clusters, colours)[3]
    np.testing.assert_array_equal(first_join, [20, 0, 50, 10])
    colours[[0, 2]] = colours[[2, 0]]  # now the first two share a colour
    first_join = BoundieBoxies(trees=TreeSettings((("ward", 2.0),))).grouped(clusters, colours)[3]
    np.testing.assert_array_equal(first_join, [0, 0, 30, 10])


def test_sides_snap_onto_a_straight_outline_nearby():
    edges = np.zeros((100, 100), np.uint8)
    cv2.rectangle(edges, (20, 30), (69, 79), 255, 1)  # the outline of the box 20, 30, 70, 80 (x2, y2 exclusive)
    loose = np.array([[24, 27, 66, 84], [20, 30, 70, 80]], np.float32)  # a box around the points; one exact
    snapped = snap_to_edges(loose, edges, reach=0.3, min_edges=0.3)
    np.testing.assert_array_equal(snapped, [[20, 30, 70, 80], [20, 30, 70, 80]])
    far = np.array([[0, 0, 10, 10]], np.float32)  # no outline within reach: the box stays
    np.testing.assert_array_equal(snap_to_edges(far, edges, reach=0.3, min_edges=0.3), far)
    faint = edges.copy()
    faint[:, 20] = 0
    faint[30:40, 20] = 255  # the left side a fifth drawn: under min_edges, the left side stays
    np.testing.assert_array_equal(snap_to_edges(loose[:1], faint, reach=0.3, min_edges=0.3), [[24, 30, 70, 80]])


def test_unique_rows_sorts_and_drops_repeats_as_numpy_does():
    rng = np.random.default_rng(0)
    boxes = rng.integers(0, 4, (300, 4)).astype(np.float32)  # many repeats, ties in every column
    np.testing.assert_array_equal(unique_rows(boxes), np.unique(boxes, axis=0))
    np.testing.assert_array_equal(unique_rows(boxes[:1]), boxes[:1])
    assert unique_rows(boxes[:0]).shape == (0, 4)


@pytest.mark.parametrize("iou, limit", [(0.7, 0), (0.5, 0), (0.3, 40), (0.9, 0)])
def test_suppress_duplicates_keeps_what_opencv_nms_keeps(iou, limit):
    # small whole-pixel boxes: many equal scores, and overlaps of exactly 0.3, 0.5, 0.7 or 0.9
    rng = np.random.default_rng(3)
    corner = rng.integers(0, 16, (600, 2))
    boxes = np.concatenate([corner, corner + rng.integers(1, 11, (600, 2))], axis=1).astype(np.float32)
    for scores in ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), rng.integers(1, 5, 600)):
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).astype(np.float64)
        expected = cv2.dnn.NMSBoxes(xywh, scores.astype(np.float32), 0.0, iou, top_k=limit)
        kept = suppress_duplicates(boxes, scores, iou, limit)
        assert 0 < len(kept) < (limit or len(boxes))
        np.testing.assert_array_equal(kept, boxes[np.asarray(expected).reshape(-1)])


def test_suppress_duplicates_keeps_an_overlap_of_exactly_the_threshold():
    boxes = np.array([[8, 12, 18, 21], [9, 12, 16, 21]], np.float32)  # 63 / 90 = 0.7 exactly
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).astype(np.float64)
    assert len(cv2.dnn.NMSBoxes(xywh, np.array([2, 1], np.float32), 0.0, 0.7)) == 2
    np.testing.assert_array_equal(suppress_duplicates(boxes, np.array([2, 1]), 0.7), boxes)
    np.testing.assert_array_equal(suppress_duplicates(boxes, np.array([2, 1]), 0.69), boxes[:1])


def test_suppress_duplicates_rejects_a_threshold_outside_0_to_1():
    with pytest.raises(ValueError, match="1.5"):
        suppress_duplicates(np.array([[0, 0, 10, 10]], np.float32), np.ones(1), 1.5)


def test_cluster_boxes_bound_each_cluster_with_enough_points():
    points = np.array([[5, 9], [1, 2], [3, 4], [40, 41], [7, 0], [42, 40], [2, 8]], np.float32)
    labels = np.array([0, 0, 0, 2, 0, 2, 0])  # cluster 1 is empty, cluster 2 has two points
    counts = np.bincount(labels, minlength=3)
    boxes, kept = BoundieBoxies(clusters=ClusterSettings(min_cluster_points=2)).cluster_boxes(points, labels, counts)
    np.testing.assert_array_equal(kept, [True, False, True])
    np.testing.assert_array_equal(boxes, [[1, 0, 8, 10], [40, 40, 43, 42]])  # x2, y2 one past the last point
    boxes, kept = BoundieBoxies(clusters=ClusterSettings(min_cluster_points=3)).cluster_boxes(points, labels, counts)
    np.testing.assert_array_equal(kept, [True, False, False])
    np.testing.assert_array_equal(boxes, [[1, 0, 8, 10]])


def test_big_blobs_get_more_seeds():
    """k follows the data: a blob of points gets one seed per `seed_points` of its points."""
    proposer = BoundieBoxies(clusters=ClusterSettings(seed_points=100))
    line = np.stack([np.arange(10, 260), np.full(250, 50)], axis=1).astype(np.float32)  # one 250-point blob
    dot = np.array([[5, 150], [6, 150], [5, 151], [6, 151], [7, 150], [7, 151]], np.float32)  # six points
    seeds = proposer.seeds(np.concatenate([line, dot]), (200, 300))
    assert len(seeds) == 3 + 1
    assert {tuple(s) for s in seeds[:3]} == {(10.0, 50.0), (134.0, 50.0), (259.0, 50.0)}  # spread along the line
    np.testing.assert_allclose(seeds[3], dot.mean(axis=0))


def test_dlib_keeps_at_most_max_boxes(eight_objects):
    frame, _ = eight_objects
    boxes = DlibProposals(max_boxes=7)(frame)
    assert 0 < len(boxes) <= 7
    assert box_iou(boxes, boxes)[~np.eye(len(boxes), dtype=bool)].max() <= 0.7  # near-duplicates dropped


def test_factory_passes_settings_and_rejects_unknown_names():
    assert PROPOSAL_METHODS == ("boundieboxies", "dlib")
    assert isinstance(make_proposals("boundieboxies", points=PointSettings(max_points=500)), BoundieBoxies)
    assert make_proposals("dlib", max_boxes=5).max_boxes == 5
    with pytest.raises(ValueError, match=r"'edgeboxes'.*boundieboxies, dlib"):
        make_proposals("edgeboxes")
    with pytest.raises(TypeError):
        make_proposals("dlib", no_such_setting=1)


def test_box_iou_hand_computed():
    a = np.array([[0, 0, 10, 10], [0, 0, 2, 2]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 5, 5]], np.float32)
    expected = np.array([[1, 50 / 150, 0, 25 / 100],
                         [4 / 100, 0, 0, 4 / 25]], np.float32)
    iou = box_iou(a, b)
    assert iou.dtype == np.float32 and iou.shape == (2, 4)
    np.testing.assert_allclose(iou, expected, rtol=1e-6)
    np.testing.assert_allclose(box_iou(b, a), expected.T, rtol=1e-6)
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 4)
    assert box_iou(np.array([[0, 0, 0, 5]]), np.array([[0, 0, 0, 5]]))[0, 0] == 0  # degenerate: no NaN


def test_recall_counts_truth_boxes_matched_at_the_threshold():
    truth = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]], np.float32)
    proposals = np.array([[0, 0, 10, 10], [22, 20, 30, 30], [100, 100, 110, 110]], np.float32)
    assert recall(proposals, truth) == pytest.approx(2 / 3)  # the second matches at IoU 0.8
    assert recall(proposals, truth, iou=0.9) == pytest.approx(1 / 3)
    assert recall(np.array([[0, 0, 10, 5]], np.float32), truth[:1]) == 1.0  # IoU exactly 0.5 counts
    assert recall(np.zeros((0, 4), np.float32), truth) == 0.0
    assert recall(proposals, np.zeros((0, 4), np.float32)) == 1.0
