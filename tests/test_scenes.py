import numpy as np
import pytest

from streamsee.core.labels import BACKGROUND_ID
from streamsee.datasets.scenes import compose, folder_backgrounds, skimage_backgrounds


@pytest.fixture(scope="module")
def photos():
    return skimage_backgrounds()


def test_label_map_matches_the_pasted_boxes(photos):
    rng = np.random.default_rng(0)
    objects = np.stack([np.full((32, 32, 3), 25 * i, np.uint8) for i in range(10)])
    labels = np.arange(10, dtype=np.uint8)
    for _ in range(10):
        scene = compose(rng, photos, objects, labels, size=(240, 320), objects=(1, 4), side=(30, 90))
        assert scene.image.shape == (240, 320, 3) and scene.image.dtype == np.uint8
        painted = np.full((240, 320), BACKGROUND_ID, np.uint8)
        for (x1, y1, x2, y2), class_id in zip(scene.xyxy.astype(int), scene.class_id):
            assert 30 <= x2 - x1 == y2 - y1 <= 90
            assert (painted[y1:y2, x1:x2] == BACKGROUND_ID).all()  # no overlaps
            painted[y1:y2, x1:x2] = class_id
            assert (scene.image[y1:y2, x1:x2] == 25 * class_id).all()
        np.testing.assert_array_equal(painted, scene.label_map)


def test_empty_scene(photos):
    scene = compose(np.random.default_rng(1), photos, np.zeros((1, 32, 32, 3), np.uint8), np.zeros(1, np.uint8),
                    objects=(0, 0))
    assert len(scene.xyxy) == 0 and (scene.label_map == BACKGROUND_ID).all()


def test_background_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        folder_backgrounds(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="no readable"):
        folder_backgrounds(tmp_path)


def test_calibration_photos_are_kept_out_of_fitting():
    fit, calibrate, every = (skimage_backgrounds(part) for part in ("fit", "calibrate", "all"))
    assert len(calibrate) == 5 and len(fit) + len(calibrate) == len(every)
    fingerprints = {photo.tobytes()[:4096] + bytes(str(photo.shape), "ascii") for photo in fit}
    assert not any(photo.tobytes()[:4096] + bytes(str(photo.shape), "ascii") in fingerprints for photo in calibrate)
    with pytest.raises(ValueError, match="'everything'"):
        skimage_backgrounds("everything")


def test_wallpapers_are_split_into_fitting_and_calibration(wallpapers):
    from streamsee.datasets.scenes import WALLPAPERS, wallpaper_backgrounds

    assert not set(WALLPAPERS["fit"]) & set(WALLPAPERS["calibrate"])
    fit, calibrate = wallpaper_backgrounds("fit"), wallpaper_backgrounds("calibrate")
    assert len(fit) == len(WALLPAPERS["fit"]) and len(calibrate) == len(WALLPAPERS["calibrate"]) + 1  # + stereo_motorcycle
    for photo in fit + calibrate:
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3 and max(photo.shape[:2]) <= 1280
    with pytest.raises(ValueError, match="'all'"):
        wallpaper_backgrounds("all")


def test_missing_wallpapers_name_the_packages(tmp_path):
    from streamsee.datasets.scenes import wallpaper_backgrounds

    with pytest.raises(FileNotFoundError, match="apt-get install lomiri-wallpapers mate-backgrounds"):
        wallpaper_backgrounds("fit", folder=tmp_path)
