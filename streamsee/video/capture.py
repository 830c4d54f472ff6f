"""Live sources: a camera through OpenCV, a network stream through PyAV (FFmpeg)."""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import av
import cv2

from streamsee.core.frames import to_bgr
from streamsee.core.resource import Resource
from streamsee.video.frame import CLOCK_TIME_BASE, Frame, fps_text, frame_seconds

NETWORK_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "rtp", "srt", "udp", "tcp", "http", "https")

# OpenCV's own FFmpeg logs straight to stderr (e.g. "Cannot open video device") unless told
# otherwise before its first capture: quiet (AV_LOG_QUIET); failures are reported by CameraError.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


class CameraError(OSError):
    """A camera that cannot be opened or that delivers no frame."""


class StreamError(ConnectionError):
    """A network stream that cannot be reached or sends nothing in time."""


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
    stills = False
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
    with `error` set. Timestamps are the stream's own (seconds); where a frame has none (None or
    NaN: the frame flushed from the decoder after a read timed out) it is one frame after the last.
    """

    live = True
    stills = False

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
        self.last_time: float | None = None  # the last decoded frame's, for one that has none
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
            timestamp = self.last_time = frame_seconds(picture.time, number, self.rate, self.last_time)
            image = picture.to_ndarray(format="bgr24")
            captured = time.perf_counter()
            frames.append(Frame(number, image, timestamp, captured, (captured - started) * 1000))
            started = captured
        return frames
