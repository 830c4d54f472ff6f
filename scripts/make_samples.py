"""Make the bundled samples from the CC0 photos that ship inside scikit-image.

    python scripts/make_samples.py   (writes into streamsee/samples/, package data)

chelsea.jpg: scikit-image's `chelsea` (a cat, CC0), saved as BGR JPEG.
sample.mp4: 6 s at 25 fps, 640x480, H.264 (yuv420p): a slow, camera-like pan and zoom over the same
    photo, shown as a print on a blurred backdrop made from it (the cat spans about 270 to 390 px
    of the frame's 640). Deterministic: no randomness, every frame a function of its index.
"""

import math
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from skimage import data

HERE = Path(__file__).resolve().parents[1] / "streamsee" / "samples"

SIZE = (640, 480)  # width, height of the video
RATE = 25
SECONDS = 6
WORLD = (1200, 900)  # the scene the camera looks at: backdrop with the photo at its centre
CAT_WIDTH = 360  # the cat's head in the photo (451x300) spans about x 10..370


def world(photo: np.ndarray) -> np.ndarray:
    """The scene: a dimmed, strongly blurred enlargement of the photo, the photo itself (native
    size, a thin pale border like a print) at the centre."""
    width, height = WORLD
    backdrop = cv2.resize(photo, (width, height), interpolation=cv2.INTER_LINEAR)
    backdrop = cv2.GaussianBlur(backdrop, (0, 0), 25)
    backdrop = (backdrop.astype(np.float32) * 0.6 + 40).clip(0, 255).astype(np.uint8)
    print_ = cv2.copyMakeBorder(photo, 6, 6, 6, 6, cv2.BORDER_CONSTANT, value=(235, 238, 240))
    top = (height - print_.shape[0]) // 2
    left = (width - print_.shape[1]) // 2
    backdrop[top:top + print_.shape[0], left:left + print_.shape[1]] = print_
    return backdrop


def camera(index: int) -> np.ndarray:
    """The 2x3 affine map from the scene to frame `index`: a zoom in from a wide view, a slow pan
    from left to right, a gentle sway and roll like a hand-held camera."""
    t = index / (RATE * SECONDS)  # 0 .. 1
    ease = 0.5 - 0.5 * math.cos(math.pi * t)  # slow start, slow end
    view_width = 840 - 240 * ease  # scene pixels across the frame: cat 274 px .. 384 px
    centre_x = WORLD[0] / 2 - 45 + 90 * ease + 6 * math.sin(2 * math.pi * 0.7 * index / RATE)
    centre_y = WORLD[1] / 2 + 20 - 30 * ease + 4 * math.sin(2 * math.pi * 0.45 * index / RATE + 1.0)
    angle = 1.2 * math.sin(2 * math.pi * 0.25 * index / RATE)  # degrees
    scale = SIZE[0] / view_width
    matrix = cv2.getRotationMatrix2D((centre_x, centre_y), angle, scale)
    matrix[0, 2] += SIZE[0] / 2 - centre_x  # the view's centre to the frame's centre
    matrix[1, 2] += SIZE[1] / 2 - centre_y
    return matrix


def write_video(path: Path, photo: np.ndarray) -> None:
    scene = world(photo)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=RATE, options={"crf": "23", "preset": "medium", "g": "50",
                                                                     "threads": "1"})
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        for index in range(RATE * SECONDS):
            image = cv2.warpAffine(scene, camera(index), SIZE, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = index, Fraction(1, RATE)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def main() -> None:
    photo = cv2.cvtColor(data.chelsea(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(HERE / "chelsea.jpg"), photo, [cv2.IMWRITE_JPEG_QUALITY, 90])
    write_video(HERE / "sample.mp4", photo)


if __name__ == "__main__":
    main()
