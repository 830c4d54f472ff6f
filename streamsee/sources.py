"""Where frames come from. Every source is a context manager (close() safe twice) that yields
`Frame`s: BGR uint8 pixels with their index, source timestamp and capture time."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from .classifier import to_bgr
from .resource import Resource

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


@dataclass(frozen=True)
class Frame:
    index: int  # position in the source
    image: np.ndarray  # BGR uint8 (H, W, 3)
    timestamp: float  # seconds, the source's own clock
    captured: float  # time.perf_counter() when it was grabbed


class VideoFile(Resource):
    """A video file decoded with PyAV, every frame in order; `audio` is its first audio stream (or None).

    A file that ends early or holds corrupt data yields what decodes and records the problem in
    `error` (a message) instead of raising half way.
    """

    live = False

    def __init__(self, path: os.PathLike | str):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"video not found: {str(self.path)!r}")
        try:
            self.container = av.open(str(self.path))
        except av.error.FFmpegError as error:
            raise ValueError(f"not a readable video: {str(self.path)!r} ({error.strerror or error})") from None
        if not self.container.streams.video:
            self.container.close()
            raise ValueError(f"no video stream in {str(self.path)!r}")
        self.video = self.container.streams.video[0]
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
        self.rate: Fraction = self.video.average_rate or self.video.guessed_rate or Fraction(25)
        self.error: str | None = None
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.container.close()
            self.closed = True

    def packets(self):
        """Demuxed packets of the video and audio streams, in file order (for copying audio through)."""
        streams = [self.video] + ([self.audio] if self.audio is not None else [])
        return self.container.demux(streams)

    def frames(self):
        """Decoded video frames and, interleaved, audio packets: yields Frame or av.Packet."""
        index = 0
        try:
            for packet in self.packets():
                if packet.stream is not self.video:
                    if packet.dts is not None:
                        yield packet
                    continue
                for decoded in packet.decode():
                    timestamp = float(decoded.time) if decoded.time is not None else index / float(self.rate)
                    yield Frame(index, decoded.to_ndarray(format="bgr24"), timestamp, time.perf_counter())
                    index += 1
        except (av.error.FFmpegError, ValueError) as error:
            self.error = f"{str(self.path)!r} could not be decoded past frame {index}: {error}"
            return
        expected = self.video.frames
        if expected and index < expected:
            self.error = f"{str(self.path)!r} ended after {index} of its {expected} frames (truncated?)"


class ImageFiles(Resource):
    """An image or a folder of images (file-name order), one frame each, timestamps 0, 1, 2... s."""

    live = False
    audio = None
    error = None
    rate = Fraction(1)

    def __init__(self, path: os.PathLike | str):
        self.paths = list_images(path)
        self.from_folder = Path(path).is_dir()
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def frames(self):
        for index, path in enumerate(self.paths):
            yield Frame(index, read_image(path), float(index), time.perf_counter())


class Paced(Resource):
    """A file played at its own frame rate, as a camera would deliver it: the live policy applies
    (drop the oldest frame when the queue is full, skip stale frames). Everything else about the
    source (rate, streams, error) is the wrapped source's."""

    live = True

    def __init__(self, source: VideoFile | ImageFiles):
        self.source = source

    def __getattr__(self, name):
        return getattr(self.source, name)

    def close(self) -> None:
        self.source.close()

    def frames(self):
        start = time.perf_counter()
        first: float | None = None
        for item in self.source.frames():
            if isinstance(item, Frame):
                first = item.timestamp if first is None else first
                delay = start + (item.timestamp - first) - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                item = replace(item, captured=time.perf_counter())
            yield item
