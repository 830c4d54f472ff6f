"""Frames inside streamsee are BGR uint8 (H, W, 3): the one conversion from what decoders give, and
the check every path makes."""

from __future__ import annotations

import cv2
import numpy as np


def check_frame(frame: np.ndarray) -> None:
    """Frames are BGR uint8 (H, W, 3) everywhere inside streamsee."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be BGR uint8 (H, W, 3), got {frame.dtype} {frame.shape}")


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Any decoded image (grey, BGR, BGRA; uint8 or uint16) as BGR uint8 (H, W, 3)."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"image dtype {image.dtype} is not uint8 or uint16")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(f"image shape {image.shape} is not (H, W), (H, W, 3) or (H, W, 4)")


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """An image of any size as size x size (area interpolation when shrinking, linear when enlarging)."""
    height, width = image.shape[:2]
    shrinking = height > size or width > size
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def resize_squares(images: np.ndarray, size: int) -> np.ndarray:
    """Images (N, H, W, C) as (N, size, size, C) (themselves when already that size)."""
    if images.shape[1:3] == (size, size):
        return images
    if not len(images):
        return np.zeros((0, size, size, *images.shape[3:]), images.dtype)
    return np.stack([resize_square(image, size) for image in images])
