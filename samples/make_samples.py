"""Make the bundled samples from the CC0 photos that ship inside scikit-image.

    python samples/make_samples.py

chelsea.jpg: scikit-image's `chelsea` (a cat, CC0), saved as BGR JPEG.
"""

from pathlib import Path

import cv2
from skimage import data

HERE = Path(__file__).parent


def main() -> None:
    cv2.imwrite(str(HERE / "chelsea.jpg"), cv2.cvtColor(data.chelsea(), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])


if __name__ == "__main__":
    main()
