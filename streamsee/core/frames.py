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
