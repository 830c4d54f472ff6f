"""Still images: one image, or a folder of them in file-name order."""

from __future__ import annotations

import os
from pathlib import Path

import cv2

from .classifier import to_bgr

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def list_images(source: os.PathLike | str) -> list[Path]:
    """The image, or the images of a folder sorted by file name."""
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"input not found: {str(source)!r}")
    if source.is_dir():
        images = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {str(source)!r}")
        return images
    return [source]


def read_image(path: Path):
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"not a readable image: {str(path)!r}")
    return to_bgr(image)
