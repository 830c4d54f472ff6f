"""Where frames come from. Every source is a context manager (close() safe twice) that yields
`Frame`s: BGR uint8 pixels with their index, source timestamp and capture time.

Every source has the same public attributes:
    live: bool               frames arrive in real time (drop/skip policy applies); a network stream's and a
                             camera's may be set when opened (--live/--no-live)
    stills: bool             frames are unrelated photos (nothing is carried from one to the next)
    rate: Fraction           frames per second
    size: tuple[int, int]    width, height of its frames
    time_base: Fraction      for the output video's timestamps
    audio                    a PyAV audio stream whose packets frames() passes through, or None
    error: str | None        set when it ended early or abnormally after yielding frames
    description: str         one short line for people

A source that cannot give a single frame raises from `frames()` instead of setting `error`. A live
network stream or camera lost mid-run yields `Notice`s (video/reconnect.py) while it reconnects.

`open_source` picks the source for an input: a camera, a network URL, a folder or an image, a
video file, or (no input at all) the bundled sample video.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from numbers import Real
from pathlib import Path
from urllib.parse import unquote, urlsplit

import av
import cv2

from streamsee.core.files import SAMPLE_VIDEO
from streamsee.core.frames import to_bgr
from streamsee.core.resource import Resource
from streamsee.video.capture import NETWORK_SCHEMES, Camera, CameraError, NetworkStream, StreamError, is_url, redact
from streamsee.video.frame import CLOCK_TIME_BASE, Frame, fps_text, frame_seconds
from streamsee.video.reconnect import Notice

__all__ = ["SAMPLE_VIDEO", "Camera", "CameraError", "Frame", "ImageFiles", "NetworkStream", "Notice", "Paced",
           "StreamError", "VideoFile", "open_source", "redact"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
SCHEME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789+-.")


def warn_on_stderr(message: str) -> None:
    print(f"streamsee: warning: {message}", file=sys.stderr, flush=True)


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
    """The image as BGR uint8, turned upright by its EXIF orientation (a phone's portrait photo);
    grey, alpha and 16-bit images are converted (`to_bgr`)."""
    image = cv2.imread(str(path), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)  # not UNCHANGED: it ignores EXIF
    if image is None:
        raise ValueError(f"not a readable image: {str(path)!r}")
    return to_bgr(image)


UPRIGHT = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}


def display_rotation(path: Path) -> int:
    """Degrees counterclockwise (0, 90, 180 or 270) a video's display matrix turns its pictures, as
    players show them (a phone's portrait clip: 90 or 270), read from its first decoded frame; 0
    where it has none or nothing decodes."""
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                return round((frame.rotation or 0) / 90) % 4 * 90
    except (av.error.FFmpegError, ValueError, StopIteration):
        pass
    return 0


def seek_before(container, stream, time: Fraction) -> None:
    """Seek `container` to a keyframe of `stream` at or before `time` (seconds). Where the file has an
    index (MP4, Matroska) one seek lands there; where a seek only estimates (MPEG-TS) and lands after
    it, seek earlier, by 1, 2, 4... s, until the first keyframe read from there is not after `time`
    (or the seek is at the file's start)."""
    base = stream.time_base
    first = (stream.start_time or 0) * base
    margin = Fraction(0)
    while True:
        target = math.floor((time - margin) / base)
        container.seek(target, stream=stream, backward=True)
        keyframe = next((packet.pts for packet in container.demux(stream)
                         if packet.is_keyframe and packet.pts is not None), None)
        if (keyframe is not None and keyframe * base <= time) or time - margin <= first:
            container.seek(target, stream=stream, backward=True)
            return
        margin = max(Fraction(1), 2 * margin)


class VideoFile(Resource):
    """A video file decoded with PyAV, every frame in order; `audio` is its first audio stream (or None).

    The container's frame count is a hint (for progress): a file decodes to its last decodable
    frame, and one that shows fewer frames than it declares (an edit list from a trim with
    `ffmpeg -ss T -c copy`, a phone's edit) is whole. A file that is damaged (FFmpeg fails part way,
    or its data stops before the packets its own index lists: truncated) yields what decodes and
    records the problem in `error` (a message) instead of raising half way; one from which nothing
    decodes raises ValueError.

    Damaged data mid-file does not stop it: a packet the demuxer marks corrupt or the decoder
    refuses is skipped and counted in `damage["packets"]`, and the video packets that gave no
    picture (frames lost to the damage) in `damage["frames_lost"]`. Pictures are turned upright as
    the display matrix says (`rotation`, degrees counterclockwise): `size` is the upright size.

    `start` and `end` (seconds on the file's clock, exact as Fractions; None: its beginning, its end)
    make it a part of the file: decoding starts at the keyframe at or before `start` (a seek), frames
    before `start` are left out and it stops at the first frame at or after `end`; frames are numbered
    from 0 and keep the file's times. A part has no audio (`audio` None: whoever joins parts copies
    the file's audio whole). Damage, and a file that ends early, are told within the part.
    """

    live = False
    stills = False

    def __init__(self, path: os.PathLike | str, start: Real | None = None, end: Real | None = None):
        self.path = Path(path)
        self.name = os.fspath(path)  # as given, for messages
        self.start = None if start is None else Fraction(start)
        self.end = None if end is None else Fraction(end)
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(f"an empty part of {self.name!r}: from {float(self.start):g} s to {float(self.end):g} s")
        if not self.path.is_file():
            raise FileNotFoundError(f"video not found: {self.name!r}")
        try:
            self.container = av.open(str(self.path))
        except av.error.FFmpegError as error:
            raise ValueError(f"not a readable video: {self.name!r} ({error.strerror or error})") from None
        if not self.container.streams.video:
            self.container.close()
            raise ValueError(f"no video stream in {self.name!r}")
        self.video = self.container.streams.video[0]
        self.audio = self.container.streams.audio[0] if self.container.streams.audio and not self.part else None
        self.rate: Fraction = self.video.average_rate or self.video.guessed_rate or Fraction(25)
        width, height = self.video.codec_context.width, self.video.codec_context.height
        self.rotation = display_rotation(self.path)
        self.size: tuple[int, int] = (height, width) if self.rotation in (90, 270) else (width, height)
        self.time_base: Fraction = self.video.time_base or CLOCK_TIME_BASE
        turned = f" (turned {self.rotation}° upright)" if self.rotation else ""
        self.description = f"video {self.name!r} {self.size[0]}x{self.size[1]}{turned} at {fps_text(self.rate)} fps"
        if self.part:
            self.description += f", {self.span_text()}"
        self.damage = {"packets": 0, "frames_lost": 0}
        self.error: str | None = None
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.container.close()
            self.closed = True

    @property
    def part(self) -> bool:  # `start` or `end` given
        return self.start is not None or self.end is not None

    def span_text(self) -> str:
        start = "the beginning" if self.start is None else f"{float(self.start):g} s"
        return f"from {start} to {'the end' if self.end is None else f'{float(self.end):g} s'}"

    def place(self, pts: int | None) -> int:
        """Where a time (video time base; None: unknown) lies: -1 before `start`, 0 within, 1 at or after `end`."""
        if pts is None or not self.part:
            return 0
        time = pts * self.video.time_base
        return -1 if self.start is not None and time < self.start else 1 if self.end is not None and time >= self.end else 0

    def packets(self):
        """Demuxed packets of the video and audio streams, in file order (for copying audio through);
        for a part, the video's from the keyframe at or before `start`."""
        streams = [self.video] + ([self.audio] if self.audio is not None else [])
        if self.start is not None:
            seek_before(self.container, self.video, self.start)
        return self.container.demux(streams)

    def frames(self):
        """Decoded video frames and, interleaved, audio packets: yields Frame or av.Packet."""
        index = packets = hidden = read = 0
        first_dts: int | None = None
        timestamp: float | None = None
        within = " " + self.span_text() if self.part else ""
        complete = False  # a part: a frame at or after its end was reached
        try:
            for packet in self.packets():
                if packet.stream is not self.video:
                    if packet.dts is not None:
                        yield packet
                    continue
                counted = self.place(packet.pts) == 0  # a part counts its own packets only
                if packet.dts is not None or packet.size > 0:  # not the demuxer's closing flush packet
                    read += 1
                    first_dts = packet.dts if first_dts is None else first_dts
                    packets += counted
                    hidden += counted and packet.is_discard  # before an edit list's start: decoded, never shown
                started = time.perf_counter()
                for decoded in self.decode(packet, counted):
                    place = self.place(decoded.pts)
                    if place < 0:  # before the part: decoded from its keyframe, not shown
                        continue
                    if place > 0:  # the decoder gives frames in time order: the part is complete
                        complete = True
                        break
                    timestamp = frame_seconds(decoded.time, index, self.rate, timestamp)
                    image = decoded.to_ndarray(format="bgr24")
                    if self.rotation:
                        image = cv2.rotate(image, UPRIGHT[self.rotation])
                    captured = time.perf_counter()
                    yield Frame(index, image, timestamp, captured, (captured - started) * 1000)
                    index += 1
                    started = time.perf_counter()
                if complete:
                    break
        except (av.error.FFmpegError, ValueError) as error:
            if index == 0:
                raise ValueError(f"not a readable video: {self.name!r} (no frame decodes{within}: {error})") from None
            self.error = f"{self.name!r} could not be decoded past frame {index}{within}: {error}"
            return
        if index == 0:
            raise ValueError(f"not a readable video: {self.name!r} (no frame decodes{within})")
        self.damage["frames_lost"] = max(0, packets - hidden - index)
        self.error = self.shortfall(read, first_dts, complete)

    def shortfall(self, read: int, first_dts: int | None, complete: bool) -> str | None:
        """What says the file ended early: fewer packets read than its index lists (from where the reading
        started), or, for a part with an end, no frame reached at or after it. None where nothing does."""
        if self.end is not None:
            return None if complete else (f"{self.name!r} ends before {float(self.end):g} s, the end of the part "
                                          "(truncated?)")
        expected = self.video.frames  # samples in the container's index: a hint, but every one is in a whole file
        if not expected:
            return None
        if self.start is None:
            return (f"{self.name!r} ends after {read} of the {expected} packets its index lists (truncated?)"
                    if read < expected else None)
        entries = self.video.index_entries
        if first_dts is None or len(entries) != expected:
            return None
        listed = sum(1 for entry in entries if entry.timestamp >= first_dts)
        return (f"{self.name!r} ends after {read} of the {listed} packets its index lists from {float(self.start):g} s "
                "(truncated?)" if read < listed else None)

    def decode(self, packet, counted: bool = True) -> list:
        """The pictures of one packet; a damaged packet (marked corrupt by the demuxer, refused by the
        decoder) is counted (where `counted`: a part's own packets), and skipped where it gives nothing."""
        self.damage["packets"] += int(packet.is_corrupt and counted)
        try:
            return packet.decode()
        except av.error.FFmpegError:
            self.damage["packets"] += int(not packet.is_corrupt and counted)
            return []


class ImageFiles(Resource):
    """An image or a folder of images (file-name order), one frame each, timestamps 0, 1, 2... s.
    `size` is the first readable image's (read, and so checked, when opened).

    In a folder an image that cannot be read is skipped: `warn(message)` is called once for it
    (default: one line on stderr), its name is added to `unreadable`, and its index is left out
    (a frame's index stays its position in `paths`). A folder with no readable image, or a single
    image that cannot be read, raises ValueError.
    """

    live = False
    stills = True
    audio = None
    error = None
    rate = Fraction(1)
    time_base = CLOCK_TIME_BASE

    def __init__(self, path: os.PathLike | str, warn: Callable[[str], None] | None = None):
        self.paths = list_images(path)
        self.from_folder = Path(path).is_dir()
        self.warn = warn or warn_on_stderr
        self.unreadable: list[str] = []
        self.first_index, self.first = self.next_image(0)
        if self.first is None:
            raise ValueError(f"no readable image in folder {os.fspath(path)!r} "
                             f"({len(self.paths)} tried, e.g. {self.paths[0].name!r})")
        self.size: tuple[int, int] = (self.first.shape[1], self.first.shape[0])
        size = f"{self.size[0]}x{self.size[1]}"
        count = f"{len(self.paths)} image{'s' if len(self.paths) > 1 else ''}"
        self.description = (f"{count} in folder {str(path)!r} (the first {size})" if self.from_folder
                            else f"image {str(path)!r} {size}")
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def next_image(self, start: int):
        """(index, image) of the first readable image from `start` on; (len(paths), None) past the end.
        A single image that cannot be read raises; in a folder it is skipped, warned of and counted."""
        for index in range(start, len(self.paths)):
            try:
                return index, read_image(self.paths[index])
            except ValueError as error:
                if not self.from_folder:
                    raise
                self.unreadable.append(self.paths[index].name)
                self.warn(f"skipped {error}")
        return len(self.paths), None

    def frames(self):
        index, image, read_ms = self.first_index, self.first, 0.0
        while image is not None:
            yield Frame(index, image, float(index), time.perf_counter(), read_ms)
            started = time.perf_counter()
            index, image = self.next_image(index + 1)
            read_ms = (time.perf_counter() - started) * 1000


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


def open_source(spec: os.PathLike | str | None = None, camera: int | str | None = None, timeout: float = 5.0,
                warn: Callable[[str], None] | None = None, live: bool | None = None, transport: str = "tcp",
                reconnect: float = 0.0):
    """The source for an input: `camera` (an index or a device) -> Camera; a URL (rtsp://, udp://...)
    -> NetworkStream (`timeout` seconds to connect and per read, RTSP over `transport`); both with
    `live` (None: guessed) and `reconnect` (seconds to keep reconnecting, 0: off); a file:// URL -> the file; a
    folder or an image -> ImageFiles (`warn` hears of images it skips); any other path ->
    VideoFile; nothing at all -> the bundled sample video. A URL of any other scheme is a
    ValueError naming the scheme and the URL as given."""
    if camera is not None:
        if spec is not None:
            raise ValueError(f"give an input or a camera, not both (input {str(spec)!r}, camera {camera!r})")
        return Camera(camera, live=live, reconnect=reconnect)
    if spec is None:
        if not SAMPLE_VIDEO.is_file():
            raise FileNotFoundError(f"the bundled sample video {str(SAMPLE_VIDEO)!r} is missing: "
                                    "make it with `python scripts/make_samples.py`")
        source = VideoFile(SAMPLE_VIDEO)
        source.description = f"the bundled sample {SAMPLE_VIDEO.parent.name}/{SAMPLE_VIDEO.name} (no input given)"
        return source
    text = os.fspath(spec)
    if is_url(text):
        return NetworkStream(text, timeout, transport=transport, live=live, reconnect=reconnect)
    scheme, separator, _ = text.partition("://")
    if separator and len(scheme) > 1 and scheme[0].isalpha() and set(scheme.lower()) <= SCHEME_CHARACTERS:
        if scheme.lower() != "file":
            schemes = ", ".join(f"{name}://" for name in NETWORK_SCHEMES)
            raise ValueError(f"unknown URL scheme {scheme!r} in {redact(text)!r}: streamsee reads {schemes}, "
                             "file:// and plain paths")
        text = unquote(urlsplit(text).path)
    path = Path(text)
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFiles(text, warn=warn)
    return VideoFile(text)
