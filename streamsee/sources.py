"""Where frames come from. Every source is a context manager (close() safe twice) that yields
`Frame`s: BGR uint8 pixels with their index, source timestamp and capture time.

Every source has the same public attributes:
    live: bool               frames arrive in real time (drop/skip policy applies)
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
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import av
import cv2
import numpy as np

from .classifier import to_bgr
from .resource import Resource

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
NETWORK_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "rtp", "srt", "udp", "tcp", "http", "https")
SAMPLE_VIDEO = Path(__file__).resolve().parents[1] / "samples" / "sample.mp4"
CLOCK_TIME_BASE = Fraction(1, 90000)  # for sources whose timestamps are seconds on a clock

# OpenCV's own FFmpeg logs straight to stderr (e.g. "Cannot open video device") unless told
# otherwise before its first capture: quiet (AV_LOG_QUIET); failures are reported by CameraError.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


class CameraError(OSError):
    """A camera that cannot be opened or that delivers no frame."""


class StreamError(ConnectionError):
    """A network stream that cannot be reached or sends nothing in time."""


def fps_text(rate: Fraction) -> str:
    return f"{float(rate):.2f}".rstrip("0").rstrip(".")


def redact(url: str) -> str:
    """The URL without its password (rtsp://user:***@host/...), for messages and descriptions."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def is_url(spec: str) -> bool:
    scheme, separator, _ = spec.partition("://")
    return bool(separator) and scheme.lower() in NETWORK_SCHEMES


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
    decode_ms: float = 0.0  # time spent decoding it into BGR pixels


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


@contextmanager
def quiet_opencv():
    """OpenCV's own log (warnings for camera indices that do not exist) off, for one call."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


class Camera(Resource):
    """A camera through OpenCV: an index (0, 1...), a device path (/dev/video0), or anything else
    cv2.VideoCapture opens (a video file reads through the same loop). The driver's buffer is
    kept to `buffer_size` frames (1: always the newest frame, minimal latency).

    Timestamps are seconds since the first frame: the driver's (CAP_PROP_POS_MSEC) when it gives
    them, else the clock. A device that stops delivering after frames ends the iteration with
    `error` set; a file simply ends.
    """

    live = True
    audio = None
    time_base = CLOCK_TIME_BASE
    CLOSE_WAIT = 2.0  # seconds close() waits for a read in progress

    def __init__(self, device: int | str, buffer_size: int = 1):
        if isinstance(device, str) and device.strip().isdigit():
            device = int(device)
        self.device = device
        self.name = f"camera {device}" if isinstance(device, int) else f"camera {device!r}"
        self.is_file = isinstance(device, str) and Path(device).is_file()
        api = cv2.CAP_V4L2 if isinstance(device, str) and device.startswith("/dev/") and hasattr(cv2, "CAP_V4L2") \
            else cv2.CAP_ANY
        with quiet_opencv():
            self.capture = cv2.VideoCapture(device, api)
            opened = self.capture.isOpened()
        if not opened:
            self.capture.release()
            where = f"index {device}" if isinstance(device, int) else repr(device)
            raise CameraError(f"no camera at {where} (could not open it)")
        self.capture.set(cv2.CAP_PROP_BUFFERSIZE, buffer_size)  # ignored (False) by backends without one
        self.size: tuple[int, int] = (int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                                      int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.rate: Fraction = Fraction(fps).limit_denominator(1001) if 0 < fps < 1000 else Fraction(30)
        self.description = f"{self.name} {self.size[0]}x{self.size[1]} at {fps_text(self.rate)} fps"
        self.error: str | None = None
        self.lock = threading.Lock()  # close() never releases the device under a running read
        self.closed = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.lock.acquire(timeout=self.CLOSE_WAIT):  # else a read hangs: leave the device to the process exit
            try:
                self.capture.release()
            finally:
                self.lock.release()

    def frames(self):
        index = 0
        origin_msec = origin_clock = 0.0
        while True:
            with self.lock:
                if self.closed:
                    return
                ok = self.capture.grab()  # waits for the device's next frame
                captured = time.perf_counter()
                ok, image = self.capture.retrieve() if ok else (False, None)  # decodes it
                decode_ms = (time.perf_counter() - captured) * 1000
                msec = self.capture.get(cv2.CAP_PROP_POS_MSEC) if ok else 0.0
            if not ok or image is None:
                break
            if index == 0:
                origin_msec, origin_clock = msec, captured
            timestamp = (msec - origin_msec) / 1000 if msec > 0 else captured - origin_clock
            yield Frame(index, to_bgr(image), timestamp, captured, decode_ms)
            index += 1
        if self.closed:
            return
        if index == 0:
            raise CameraError(f"{self.name} opened but delivered no frame")
        if not self.is_file:
            self.error = f"{self.name} stopped delivering frames after {index} frames"


class NetworkStream(Resource):
    """Any stream FFmpeg reads from a URL (rtsp://, rtmp://, udp://, tcp://, http(s)://, srt://
    where the build has it), decoded with PyAV; RTSP over TCP. Audio packets pass through like
    VideoFile's.

    `timeout` bounds opening (no stream: StreamError) and every read: a stream that goes quiet
    for that long after frames counts as ended (error None); one that breaks with an error ends
    with `error` set. Timestamps are the stream's own (seconds; index/rate where it has none).
    """

    live = True

    def __init__(self, url: str, timeout: float = 5.0):
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"time-out must be positive seconds, not {timeout!r}")
        self.url = url
        self.timeout = float(timeout)
        self.shown = redact(url)
        scheme = url.partition("://")[0].lower()
        options = {"rtsp_transport": "tcp"} if scheme in ("rtsp", "rtsps") else {}
        try:
            self.container = av.open(url, timeout=(self.timeout, self.timeout), options=options)
        except av.error.ExitError:  # the interrupt callback: the time-out passed
            raise StreamError(f"no stream at {self.shown!r} (nothing received in {self.timeout:g} s)") from None
        except av.error.ProtocolNotFoundError:
            raise ValueError(f"cannot read {self.shown!r}: this FFmpeg build has no {scheme}:// support") from None
        except av.error.InvalidDataError as error:
            raise ValueError(f"not a readable video stream: {self.shown!r} ({error.strerror})") from None
        except av.error.FFmpegError as error:
            raise StreamError(f"no stream at {self.shown!r} ({error.strerror or type(error).__name__})") from None
        if not self.container.streams.video:
            self.container.close()
            raise ValueError(f"no video stream at {self.shown!r}")
        self.video = self.container.streams.video[0]
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
        self.rate: Fraction = self.video.average_rate or self.video.guessed_rate or Fraction(25)
        self.time_base: Fraction = self.video.time_base or CLOCK_TIME_BASE
        self.error: str | None = None
        self.lock = threading.Lock()  # close() never frees the container under a running read
        self.closed = False
        self.items = self.read()
        self.pending: list = []  # items read ahead, when the size is only known from a decoded frame
        self.size: tuple[int, int] = (self.video.codec_context.width, self.video.codec_context.height)
        if not all(self.size):
            try:
                self.size = self.read_ahead()
            except BaseException:
                self.close()
                raise
        self.description = f"{self.shown} {self.size[0]}x{self.size[1]} at {fps_text(self.rate)} fps"

    def read_ahead(self) -> tuple[int, int]:
        for item in self.items:
            self.pending.append(item)
            if isinstance(item, Frame):
                return item.image.shape[1], item.image.shape[0]
        raise StreamError(f"no frame from {self.shown!r}")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.lock.acquire(timeout=self.timeout + 1):  # a read ends within its time-out
            try:
                self.container.close()
            finally:
                self.lock.release()

    def frames(self):
        """Decoded video frames and, interleaved, audio packets: yields Frame or av.Packet."""
        while self.pending:
            yield self.pending.pop(0)
        yield from self.items

    def read(self):
        streams = [self.video] + ([self.audio] if self.audio is not None else [])
        index = 0
        with self.lock:
            packets = self.container.demux(streams)
        try:
            while True:
                with self.lock:
                    if self.closed:
                        return
                    packet = next(packets, None)
                    if packet is None:
                        return  # the sender ended the stream (the flush packets are decoded already)
                    if packet.stream is not self.video:
                        items = [packet] if packet.dts is not None else []
                    else:
                        items = self.decode(packet, index)
                for item in items:
                    yield item
                    index += isinstance(item, Frame)
        except av.error.ExitError:  # nothing for `timeout` seconds
            if index == 0:
                raise StreamError(f"no frame from {self.shown!r} (nothing decodable in {self.timeout:g} s)") from None
            with self.lock:  # quiet after frames: the stream's end; the decoder may still hold some
                items = [] if self.closed else self.decode(None, index)
            yield from items
        except av.error.FFmpegError as error:
            if self.closed:
                return
            if index == 0:
                raise StreamError(f"stream {self.shown!r} broke before its first frame ({error.strerror})") from None
            self.error = f"stream {self.shown!r} broke after {index} frames ({error.strerror or error})"

    def decode(self, packet, index: int) -> list[Frame]:
        """The frames one packet (None: flush the decoder) completes; a damaged packet (lost
        datagrams) yields none rather than ending the stream."""
        started = time.perf_counter()
        try:
            decoded = self.video.decode(packet)
        except av.error.InvalidDataError:
            return []
        frames = []
        for number, picture in enumerate(decoded, start=index):
            timestamp = float(picture.time) if picture.time is not None else number / float(self.rate)
            image = picture.to_ndarray(format="bgr24")
            captured = time.perf_counter()
            frames.append(Frame(number, image, timestamp, captured, (captured - started) * 1000))
            started = captured
        return frames


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
                                    "make it with `python samples/make_samples.py`")
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
