"""The FCN path's networks: the shared convnet run fully convolutionally over a frame.

Both FCNs (made by ``streamsee train fcn``) map a frame shrunk to a working width to logits for
the ten classes plus background at stride 2, fused from score layers at strides 8, 4 and 2:
- the class FCN, on the shipped classifier's frozen backbone: per-pixel class scores, as the
  classifier learnt them;
- the objectness FCN, whose backbone was fine-tuned on composed scenes: it finds where objects are
  far better, but its own classes fit pasted CIFAR-10 images, so only its background probability
  is used (regions.ObjectFinder).
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from streamsee.core.files import MODELS_DIR
from streamsee.recognition.runtime import LiteRTModel, softmax

DEFAULT_FCN = MODELS_DIR / "fcn" / "fcn_int8.tflite"  # frozen backbone: class scores per pixel
DEFAULT_OBJECTNESS = MODELS_DIR / "objectness" / "fcn_int8.tflite"  # fine-tuned backbone: where objects are
OUTPUT_STRIDE = 2
STRIDE = 8  # the working size is rounded to a multiple of the deepest stride
# The class FCN's working width. Real footage (`evaluate --footage`, smoothed, int8; 2026-12-07): 160 and 128
# score alike (positive clips right 0.475 and 0.480, negative clips claimed 0.123 and 0.107, photos the same;
# 96 claims one more negative photo); composed scenes mIoU 0.219 at 160, 0.232 at 128; the class FCN takes
# 11.0 ms at 160 and 7.2 ms at 128 on a 640x480 frame here (docs/experiments.md).
WORKING_WIDTH = 128
# The objectness FCN's working width: with the outline drawn from its map (outline.Outliner), a finer
# map pays. Mean mIoU over the dev and two selection scene sets: 160 0.632, 192 0.658, 224 0.658,
# 256 0.665, 320 0.618 (docs/experiments.md).
OBJECTNESS_WIDTH = 256


def check_width(name: str, value: int) -> None:
    if value < 32 or value % STRIDE:
        raise ValueError(f"{name} must be a multiple of {STRIDE} and at least 32, got {value!r}")


def working_size(frame_shape: tuple[int, ...], working_width: int) -> tuple[int, int]:
    """(height, width) a network sees for a frame of this shape: aspect kept, multiples of 8."""
    height, width = frame_shape[:2]
    return max(STRIDE, int(round(working_width * height / width / STRIDE)) * STRIDE), working_width


def shrink(frame: np.ndarray, working_width: int) -> np.ndarray:
    """The frame as a batch of one at this working width."""
    height, width = working_size(frame.shape, working_width)
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)[None]


class ScoreMap(LiteRTModel):
    """An FCN at its working width: softmax over the ten classes then background, (h, w, 11) at
    stride 2 of the working size.

    >>> with ScoreMap() as scores:
    ...     probabilities = scores(scores.shrink(frame))
    """

    def __init__(self, model_path: os.PathLike | str = DEFAULT_FCN, working_width: int = WORKING_WIDTH,
                 threads: int | None = None):
        check_width("working_width", working_width)
        super().__init__(model_path, threads)
        self.working_width = working_width

    def working_size(self, frame_shape: tuple[int, ...]) -> tuple[int, int]:
        """(height, width) this FCN sees for a frame of this shape."""
        return working_size(frame_shape, self.working_width)

    def shrink(self, frame: np.ndarray) -> np.ndarray:
        """The frame as this FCN's input: a batch of one at its working width."""
        return shrink(frame, self.working_width)

    def __call__(self, working: np.ndarray) -> np.ndarray:
        """Probabilities (h, w, 11) for a frame already shrunk (`shrink`)."""
        return softmax(self.run(working)[0])
