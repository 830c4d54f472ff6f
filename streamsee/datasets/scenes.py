"""Scenes composed from CIFAR-10 images pasted onto photos that show none of the classes.

CIFAR-10 has no pixel labels, so the FCN heads train on such scenes (training images on
scikit-image's bundled photos) and both paths are measured on them (test images on other
photos). Each scene comes with a dense label map (class id per pixel, 255 = background) and
the boxes of the pasted objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from streamsee.core.labels import BACKGROUND_ID

# scikit-image's bundled photos that show none of the ten classes. coffee and rocket are left
# out on purpose: copies of them are among the evaluation negatives in ../shared/media.
TRAINING_BACKGROUNDS = ("astronaut", "brick", "camera", "coins", "grass", "gravel", "hubble_deep_field",
                        "immunohistochemistry", "moon", "page", "retina", "text", "colorwheel", "clock", "cell")


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # BGR uint8 (H, W, 3)
    label_map: np.ndarray  # uint8 (H, W), class id per pixel, 255 = background
    xyxy: np.ndarray  # float32 (N, 4) pasted objects
    class_id: np.ndarray  # int64 (N,)


# Photos kept out of fitting: thresholds are calibrated on scenes over these, so that they are set on
# backgrounds the models have not learnt by heart (as in real footage), not on the fitting photos.
CALIBRATION_BACKGROUNDS = ("camera", "gravel", "clock", "immunohistochemistry", "flower.jpg")


def skimage_backgrounds(part: str = "fit") -> list[np.ndarray]:
    """Training background photos as BGR uint8: scikit-image's, plus the two sample photos that ship
    inside scikit-learn (a temple among trees under the sky, and a flower). `part`: "fit" (what
    models are fitted on), "calibrate" (CALIBRATION_BACKGROUNDS: what thresholds are set on) or "all"."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    if part not in ("fit", "calibrate", "all"):
        raise ValueError(f"part must be 'fit', 'calibrate' or 'all', not {part!r}")
    def wanted(name: str) -> bool:
        return part == "all" or (name in CALIBRATION_BACKGROUNDS) == (part == "calibrate")

    samples = load_sample_images()
    photos = [to_bgr_uint8(getattr(data, name)()) for name in TRAINING_BACKGROUNDS if wanted(name)]
    return photos + [to_bgr_uint8(image) for file, image in zip(samples.filenames, samples.images)
                     if wanted(Path(file).name)]


# Photos from Debian's wallpaper packages (`apt-get install lomiri-wallpapers mate-backgrounds
# plasma-workspace-wallpapers`; CC-BY, CC-BY-SA, LGPL and GPL, see /usr/share/doc/<package>/copyright) that
# show none of the ten classes: landscapes, sea, forest, plants close up, a room, cups, brushes.
# scikit-image's photos are mostly textures, documents and microscopy, so on them alone the box model
# learnt too little of real scenes. Those with a bird, a dog or boats in them (Kleiber, free, friends,
# EveningGlow) and the drawn ones are left out. Read from the installed packages, never copied.
# Plasma's photos are only calibrated on: fitted on too, they gave the box model no fewer false boxes.
WALLPAPER_FOLDER = Path("/usr/share")
WALLPAPER_PACKAGES = ("lomiri-wallpapers", "mate-backgrounds", "plasma-workspace-wallpapers")


def _plasma(name: str, size: str = "2560x1600") -> str:
    return f"wallpapers/{name}/contents/images/{size}.jpg"


WALLPAPERS = {
    "fit": (*(f"backgrounds/{name}.jpg" for name in (
        "Bridge_by_Sander_Klootwijk", "Dragonfly_by_Bolly", "Picture_0B_by_freespace", "Picture_1A_by_freespace",
        "aitzgorri_by_Aitzol_Berasategi", "life_by_Aitzol_Berasategi", "seeding_by_Clements_Engelhardt",
        "sunset_by_Aitzol_Berasategi", "analogpattern_by_Peter_Nerlich", "greentock_by_Peter_Nerlich",
        "Infinite-Sea_by_Aury88")),
            *(f"backgrounds/mate/nature/{name}.jpg" for name in (
                "Aqua", "Blinds", "Dune", "FreshFlower", "GreenMeadow", "LadyBird", "RainDrops", "TwoWings", "Wood",
                "YellowFlower"))),
    # held out from fitting, with scikit-image's stereo_motorcycle (a cluttered workshop): a room,
    # mountains, a storm over a road, a garden, a forest path, a pier in fog, cups on a table. Real
    # scenes are harder to leave alone than the five calibration photos above, so thresholds set with
    # these transfer better to real footage.
    "calibrate": ("backgrounds/Wine_by_Jakkub_Mede.jpg", "backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg",
                  "backgrounds/mate/nature/Storm.jpg", "backgrounds/mate/nature/Garden.jpg",
                  _plasma("Path"), _plasma("ColdRipple"), _plasma("ColorfulCups")),
}
WALLPAPER_SIDE = 1280  # longest side the photos are shrunk to on loading


def wallpaper_backgrounds(part: str = "fit", folder: str | Path = WALLPAPER_FOLDER) -> list[np.ndarray]:
    """Real scenes without the classes, as BGR uint8: the Debian wallpapers in WALLPAPERS[part]
    ("fit" or "calibrate"; "calibrate" also holds scikit-image's stereo_motorcycle, left view)."""
    if part not in WALLPAPERS:
        raise ValueError(f"part must be 'fit' or 'calibrate', not {part!r}")
    photos = []
    for name in WALLPAPERS[part]:
        path = Path(folder) / name
        if not path.is_file():
            raise FileNotFoundError(f"background photo not found: {str(path)!r}; install Debian's "
                                    f"wallpapers: apt-get install {' '.join(WALLPAPER_PACKAGES)}")
        photo = cv2.imread(str(path))
        if photo is None:
            raise ValueError(f"background photo is not a readable image: {str(path)!r}")
        scale = WALLPAPER_SIDE / max(photo.shape[:2])
        photos.append(cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else photo)
    if part == "calibrate":
        from skimage import data

        photos.append(to_bgr_uint8(data.stereo_motorcycle()[0]))
    return photos


def background_photos(part: str) -> list[np.ndarray]:
    """scikit-image's and Debian's photos for one part: "fit" (what models are fitted on) or
    "calibrate" (what thresholds are set on, never fitted on)."""
    return skimage_backgrounds(part) + wallpaper_backgrounds(part)


def folder_backgrounds(folder: str | Path) -> list[np.ndarray]:
    """Every photo in a folder (jpg/png) as BGR uint8; an empty or missing folder is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"background folder not found: {str(folder)!r}")
    images = [cv2.imread(str(p)) for p in sorted(folder.iterdir()) if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    images = [image for image in images if image is not None]
    if not images:
        raise ValueError(f"no readable .jpg or .png photos in {str(folder)!r}")
    return images


def to_bgr_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255).astype(np.uint8) if image.dtype.kind == "f" else image.astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2BGR)
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


def background_crop(rng: np.random.Generator, photos: list[np.ndarray], size: tuple[int, int],
                    jitter: bool) -> np.ndarray:
    """A random crop of a random photo, scaled to `size` (h, w); with jitter: flips, tint, contrast,
    and half the time a mosaic of four such crops (more kinds of background per scene)."""
    height, width = size
    if jitter and rng.random() < 0.2:
        return _jitter(rng, smooth_background(rng, size))
    if jitter and rng.random() < 0.5 and height >= 32 and width >= 32:
        top, left = int(rng.integers(height // 4, 3 * height // 4)), int(rng.integers(width // 4, 3 * width // 4))
        mosaic = np.empty((height, width, 3), np.uint8)
        for rows in (slice(0, top), slice(top, height)):
            for cols in (slice(0, left), slice(left, width)):
                tile = (rows.stop - rows.start, cols.stop - cols.start)
                mosaic[rows, cols] = background_crop(rng, photos, tile, jitter=False)
        return _jitter(rng, mosaic)
    photo = photos[rng.integers(len(photos))]
    scale = rng.uniform(0.4, 1.0) if jitter else 1.0
    crop_h = max(16, int(photo.shape[0] * scale))
    crop_w = max(16, min(photo.shape[1], int(crop_h * width / height)))
    crop_h = min(crop_h, photo.shape[0])
    top = rng.integers(0, photo.shape[0] - crop_h + 1)
    left = rng.integers(0, photo.shape[1] - crop_w + 1)
    image = cv2.resize(photo[top:top + crop_h, left:left + crop_w], (width, height), interpolation=cv2.INTER_AREA)
    return _jitter(rng, image) if jitter else image


def smooth_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A made-up background: a two-colour gradient at a random angle plus smooth noise (sky, water,
    fog, blurred walls: the plain regions photos of the classes often have, shown here without them)."""
    height, width = size
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * cols / max(width, 1) + np.sin(angle) * rows / max(height, 1)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    first, second = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    image = first + ramp[..., None] * (second - first)
    grid = (int(rng.integers(2, 9)), int(rng.integers(2, 9)))
    brightness = rng.normal(0, rng.uniform(5, 40), grid).astype(np.float32)
    image += cv2.resize(brightness, (width, height), interpolation=cv2.INTER_CUBIC)[..., None]
    return np.clip(image, 0, 255).astype(np.uint8)


def _jitter(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    if rng.random() < 0.5:
        image = image[:, ::-1]
    if rng.random() < 0.3:
        image = image[::-1]
    gain = rng.uniform(0.6, 1.4, 3)  # per-channel: also tints the grey photos
    image = np.clip(image.astype(np.float32) * gain + rng.uniform(-30, 30), 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 2.0))
    return np.ascontiguousarray(image)


def compose(rng: np.random.Generator, photos: list[np.ndarray], images: np.ndarray, labels: np.ndarray,
            size: tuple[int, int] = (480, 640), objects: tuple[int, int] = (1, 4),
            side: tuple[int, int] = (64, 224), jitter: bool = False, tries: int = 20) -> Scene:
    """One scene: a background crop with `objects` (inclusive range) CIFAR images pasted, square,
    sides drawn from `side`, not overlapping each other."""
    height, width = size
    canvas = background_crop(rng, photos, size, jitter)
    label_map = np.full(size, BACKGROUND_ID, np.uint8)
    boxes, ids = [], []
    for _ in range(rng.integers(objects[0], objects[1] + 1)):
        for _ in range(tries):
            s = int(rng.integers(side[0], min(side[1], height, width) + 1))
            x, y = int(rng.integers(0, width - s + 1)), int(rng.integers(0, height - s + 1))
            if not (label_map[y:y + s, x:x + s] != BACKGROUND_ID).any():
                break
        else:
            continue
        index = rng.integers(len(labels))
        patch = images[index]
        if jitter and rng.random() < 0.5:
            patch = patch[:, ::-1]
        canvas[y:y + s, x:x + s] = cv2.resize(patch, (s, s), interpolation=cv2.INTER_LINEAR)
        label_map[y:y + s, x:x + s] = labels[index]
        boxes.append((x, y, x + s, y + s))
        ids.append(int(labels[index]))
    return Scene(canvas, label_map, np.array(boxes, np.float32).reshape(-1, 4), np.array(ids, np.int64))


def compose_set(rng: np.random.Generator, photos: list[np.ndarray], images: np.ndarray, labels: np.ndarray,
                n: int, jitter: bool = False) -> list[Scene]:
    """N 640x480 scenes with 1-4 objects of 64-224 px each; every fourth scene is empty."""
    return [compose(rng, photos, images, labels, objects=(0, 0) if i % 4 == 3 else (1, 4), jitter=jitter)
            for i in range(n)]
