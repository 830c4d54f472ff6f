"""Make the README's pictures: real frames annotated by each path, as the tool draws them.

    python scripts/make_pictures.py [--media ../shared/media]

docs/images/boxes.png:   the box path on a frame of a real clip (../shared/media/videos/car-turn.mp4)
docs/images/segment.png: the FCN path on a frame of a real clip (../shared/media/videos/dog.mp4)
docs/images/sample.png:  both paths side by side on the bundled sample video (what `streamsee` plays)

The middle frame of each clip, the shipped models and default settings; nothing is picked by hand
beyond the clip. The media is the development set: shown here, never trained on.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import cv2
import numpy as np

from streamsee import SAMPLE_VIDEO
from streamsee.live.analyser import Analyser

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"
WIDTH = 640  # each picture is this wide


def middle_frame(path: Path) -> np.ndarray:
    """The clip's middle frame as BGR uint8."""
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]
    return frames[len(frames) // 2]


def annotated(mode: str, frame: np.ndarray) -> np.ndarray:
    with Analyser(mode) as analyse:
        image = analyse.annotate(frame, analyse(frame))
    height = round(image.shape[0] * WIDTH * (2 if mode == "compare" else 1) / image.shape[1])
    return cv2.resize(image, (WIDTH * (2 if mode == "compare" else 1), height), interpolation=cv2.INTER_AREA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=Path("../shared/media"), help="the real clips")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    pictures = {"boxes.png": ("boxes", args.media / "videos" / "car-turn.mp4"),
                "segment.png": ("segment", args.media / "videos" / "dog.mp4"),
                "sample.png": ("compare", SAMPLE_VIDEO)}
    for name, (mode, clip) in pictures.items():
        if not clip.is_file():
            raise SystemExit(f"make_pictures: no clip at {str(clip)!r} (the real media beside the project)")
        cv2.imwrite(str(OUT / name), annotated(mode, middle_frame(clip)))
        print(f"{OUT / name}: {mode} on the middle frame of {clip.name}")


if __name__ == "__main__":
    main()
