"""Where frames come from. Every source is a context manager (close() safe twice) that yields
`Frame`s: BGR uint8 pixels with their index, source timestamp and capture time.

Every source has the same public attributes:
    live: bool               frames arrive in real time (drop/skip policy applies)
    stills: bool             frames are unrelated photos (nothing is carried from one to the next)
    rate: Fraction           frames per second
    size: tuple[int, int]    width, height of its frames
    time_base: Fraction      for the output video's timestamps
    audio                    a PyAV audio stream whose packets frames() passes through, or None
    error: str | None        set when it ended early or abnormally after yielding frames
    description: str         one short line for people

`open_source` picks the source for an input: a camera, a network URL, a folder or an image, a
video file, or (no input at all) the bundled sample video.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import cv2

from streamsee.core.files import SAMPLE_VIDEO
from streamsee.core.frames import to_bgr
from streamsee.core.resource import Resource
from streamsee.video.capture import Camera, CameraError, NetworkStream, StreamError, is_url, redact
from streamsee.video.frame import CLOCK_TIME_BASE, Frame, fps_text

__all__ = ["SAMPLE_VIDEO", "Camera", "CameraError", "Frame", "ImageFiles", "NetworkStream", "Paced", "StreamError",
           "VideoFile", "open_source", "redact"]

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


class VideoFile(Resource):
    """A video file decoded with PyAV, every frame in order; `audio` is its first audio stream (or None).

    A file that ends early or holds corrupt data yields what decodes and records the problem in
    `error` (a message) instead of raising half way.
    """

    live = False
    stills = False

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
        self.size: tuple[int, int] = (self.video.codec_context.width, self.video.codec_context.height)
        self.time_base: Fraction = self.video.time_base or CLOCK_TIME_BASE
        self.description = f"video {str(self.path)!r} {self.size[0]}x{self.size[1]} at {fps_text(self.rate)} fps"
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
                started = time.perf_counter()
                for decoded in packet.decode():
                    timestamp = float(decoded.time) if decoded.time is not None else index / float(self.rate)
                    image = decoded.to_ndarray(format="bgr24")
                    captured = time.perf_counter()
                    yield Frame(index, image, timestamp, captured, (captured - started) * 1000)
                    index += 1
                    started = time.perf_counter()
        except (av.error.FFmpegError, ValueError) as error:
            self.error = f"{str(self.path)!r} could not be decoded past frame {index}: {error}"
            return
        expected = self.video.frames
        if expected and index < expected:
            self.error = f"{str(self.path)!r} ended after {index} of its {expected} frames (truncated?)"


class ImageFiles(Resource):
    """An image or a folder of images (file-name order), one frame each, timestamps 0, 1, 2... s.
    `size` is the first image's (read, and so checked, when opened)."""

    live = False
    stills = True
    audio = None
    error = None
    rate = Fraction(1)
    time_base = CLOCK_TIME_BASE

    def __init__(self, path: os.PathLike | str):
        self.paths = list_images(path)
        self.from_folder = Path(path).is_dir()
        self.first = read_image(self.paths[0])
        self.size: tuple[int, int] = (self.first.shape[1], self.first.shape[0])
        size = f"{self.size[0]}x{self.size[1]}"
        count = f"{len(self.paths)} image{'s' if len(self.paths) > 1 else ''}"
        self.description = (f"{count} in folder {str(path)!r} (the first {size})" if self.from_folder
                            else f"image {str(path)!r} {size}")
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def frames(self):
        for index, path in enumerate(self.paths):
            started = time.perf_counter()
            image = self.first if index == 0 else read_image(path)
            captured = time.perf_counter()
            yield Frame(index, image, float(index), captured, (captured - started) * 1000)


class Paced(Resource):
    """A file played at its own frame rate, as a camera would deliver it: the live policy applies
    (drop the oldest frame when the queue is full, skip stale frames). Everything else about the
    source (rate, streams, error) is the wrapped source's."""

    live = True

    def __init__(self, source: VideoFile | ImageFiles):
        self.source = source

    def __getattr__(self, name):
        return getattr(self.source, name)

    @property
    def description(self) -> str:
        return f"{self.source.description}, paced at its own rate"

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


def open_source(spec: os.PathLike | str | None = None, camera: int | str | None = None, timeout: float = 5.0):
    """The source for an input: `camera` (an index or a device) -> Camera; a URL (rtsp://, udp://...)
    -> NetworkStream (`timeout` seconds to connect and per read); a folder or an image -> ImageFiles;
    any other path -> VideoFile; nothing at all -> the bundled sample video."""
    if camera is not None:
        if spec is not None:
            raise ValueError(f"give an input or a camera, not both (input {str(spec)!r}, camera {camera!r})")
        return Camera(camera)
    if spec is None:
        if not SAMPLE_VIDEO.is_file():
            raise FileNotFoundError(f"the bundled sample video {str(SAMPLE_VIDEO)!r} is missing: "
                                    "make it with `python scripts/make_samples.py`")
        source = VideoFile(SAMPLE_VIDEO)
        source.description = f"the bundled sample {SAMPLE_VIDEO.parent.name}/{SAMPLE_VIDEO.name} (no input given)"
        return source
    text = os.fspath(spec)
    if is_url(text):
        return NetworkStream(text, timeout)
    path = Path(text)
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFiles(path)
    return VideoFile(path)
