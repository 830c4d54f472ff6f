"""Live sources: a camera through OpenCV, a network stream through PyAV (FFmpeg). Both reconnect when
they are lost mid-run (video/reconnect.py), and neither lets a URL's password into a message."""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import cv2

from streamsee.core.frames import to_bgr
from streamsee.core.resource import Resource
from streamsee.video.frame import CLOCK_TIME_BASE, Frame, fps_text, frame_seconds
from streamsee.video.reconnect import reconnecting
from streamsee.video.urls import NETWORK_SCHEMES, is_url, redact

__all__ = ["NETWORK_SCHEMES", "RTSP_TRANSPORTS", "Camera", "CameraError", "NetworkStream", "StreamError", "is_url",
           "redact"]

RTSP_TRANSPORTS = ("tcp", "udp", "auto")  # auto: FFmpeg's own order (UDP, then TCP), then TCP once more
FILE_SCHEMES = ("http", "https")  # may serve a whole file (read losslessly) or a live stream (no duration)
LISTENING_SCHEMES = ("udp", "rtp")  # nobody to reconnect to: a stream that goes quiet has ended

# OpenCV's own FFmpeg logs straight to stderr (e.g. "Cannot open video device") unless told
# otherwise before its first capture: quiet (AV_LOG_QUIET); failures are reported by CameraError.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


class CameraError(OSError):
    """A camera that cannot be opened or that delivers no frame."""


class StreamError(ConnectionError):
    """A network stream that cannot be reached or sends nothing in time."""


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
    them, else the clock. A device that stops delivering after frames is opened again for up to
    `reconnect` seconds (video/reconnect.py: Notices are yielded meanwhile, and the times run on
    across the gap); one that does not come back, or with `reconnect` 0, ends the iteration with
    `error` set. A file simply ends. `live` (default true) is the policy the pipeline applies.
    """

    stills = False
    audio = None
    time_base = CLOCK_TIME_BASE
    CLOSE_WAIT = 2.0  # seconds close() waits for a read in progress

    def __init__(self, device: int | str, buffer_size: int = 1, live: bool | None = None, reconnect: float = 0.0):
        if isinstance(device, str) and device.strip().isdigit():
            device = int(device)
        self.device = device
        self.name = f"camera {device}" if isinstance(device, int) else f"camera {redact(device)!r}"
        self.is_file = isinstance(device, str) and Path(device).is_file()
        self.api = cv2.CAP_V4L2 if isinstance(device, str) and device.startswith("/dev/") and hasattr(cv2, "CAP_V4L2") \
            else cv2.CAP_ANY
        self.buffer_size = buffer_size
        self.capture = self.open_capture()
        self.size: tuple[int, int] = (int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                                      int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.rate: Fraction = Fraction(fps).limit_denominator(1001) if 0 < fps < 1000 else Fraction(30)
        self.description = f"{self.name} {self.size[0]}x{self.size[1]} at {fps_text(self.rate)} fps"
        self.live = True if live is None else live
        self.reconnect = 0.0 if self.is_file else float(reconnect)
        self.error: str | None = None
        self.lock = threading.Lock()  # close() never releases the device under a running read
        self.closing = threading.Event()  # close() ends a wait between reconnection tries
        self.closed = False

    def open_capture(self):
        with quiet_opencv():
            capture = cv2.VideoCapture(self.device, self.api)
            opened = capture.isOpened()
        if not opened:
            capture.release()
            where = f"index {self.device}" if isinstance(self.device, int) else repr(redact(self.device))
            raise CameraError(f"no camera at {where} (could not open it)")
        capture.set(cv2.CAP_PROP_BUFFERSIZE, self.buffer_size)  # ignored (False) by backends without one
        return capture

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.closing.set()
        if self.lock.acquire(timeout=self.CLOSE_WAIT):  # else a read hangs: leave the device to the process exit
            try:
                self.capture.release()
            finally:
                self.lock.release()

    def frames(self):
        index = 0
        fresh = True  # the next frame is the first of a connection: its clock starts there
        origin_msec = origin_clock = base = last_time = 0.0
        last_captured = time.perf_counter()
        while True:
            with self.lock:
                if self.closed:
                    return
                ok = self.capture.grab()  # waits for the device's next frame
                captured = time.perf_counter()
                ok, image = self.capture.retrieve() if ok else (False, None)  # decodes it
                decode_ms = (time.perf_counter() - captured) * 1000
                msec = self.capture.get(cv2.CAP_PROP_POS_MSEC) if ok else 0.0
            if ok and image is not None:
                if fresh:
                    origin_msec, origin_clock, fresh = msec, captured, False
                    base = 0.0 if index == 0 else last_time + max(captured - last_captured, 1 / float(self.rate))
                last_time = base + ((msec - origin_msec) / 1000 if msec > 0 else captured - origin_clock)
                last_captured = captured
                image = to_bgr(image)
                if (image.shape[1], image.shape[0]) != self.size and all(self.size):
                    image = cv2.resize(image, self.size)  # a device back at another size: one output size
                yield Frame(index, image, last_time, captured, decode_ms)
                index += 1
                continue
            if self.closed:
                return
            if index == 0:
                raise CameraError(f"{self.name} opened but delivered no frame")
            if self.is_file:
                return
            stopped = f"{self.name} stopped delivering frames after {index} frames"
            if not self.reconnect:
                self.error = stopped
                return
            capture = yield from reconnecting(self.name, "no frame from the device", index, self.reconnect,
                                              last_captured, self.open_capture, self.closing)
            with self.lock:
                if self.closed or capture is None:
                    if capture is not None:
                        capture.release()
                    if not self.closed:
                        self.error = f"{stopped} and was not back within {self.reconnect:g} s"
                    return
                self.capture.release()
                self.capture, fresh = capture, True


class NetworkStream(Resource):
    """Any stream FFmpeg reads from a URL (rtsp://, rtmp://, udp://, tcp://, http(s)://, srt://
    where the build has it), decoded with PyAV. RTSP carries RTP over `transport`: tcp (inside the
    RTSP connection), udp, or auto (FFmpeg tries UDP then TCP; failing that, TCP once more). Audio
    packets pass through like VideoFile's.

    `live` is the policy the pipeline applies (drop and skip to keep up); None guesses: an http(s)
    URL with a duration is a file, read losslessly; anything else is live.

    `timeout` bounds opening (no stream: StreamError) and every read. A connection lost after frames
    (closed before the end of what it serves, broken by an error, or quiet for `timeout` s) is opened
    again for up to `reconnect` seconds after the last frame (rtsp, rtmp, srt, tcp, and live http(s);
    video/reconnect.py): Notices are yielded meanwhile, frame numbers and times run on across the gap,
    and frames of another size are scaled to the first's. Without reconnection a stream that closed
    or went quiet has ended (error None) and one that broke ends with `error` set, as does one that
    did not come back. Timestamps are the stream's own (seconds); where a frame has none (None or
    NaN: the frame flushed from the decoder after a read timed out) it is one frame after the last.
    """

    stills = False

    def __init__(self, url: str, timeout: float = 5.0, transport: str = "tcp", live: bool | None = None,
                 reconnect: float = 0.0):
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"time-out must be positive seconds, not {timeout!r}")
        if transport not in RTSP_TRANSPORTS:
            raise ValueError(f"RTSP transport must be one of {', '.join(RTSP_TRANSPORTS)}, not {transport!r}")
        if isinstance(reconnect, bool) or not isinstance(reconnect, (int, float)) or not reconnect >= 0:
            raise ValueError(f"reconnect must be seconds >= 0, not {reconnect!r}")
        self.url = url
        self.timeout = float(timeout)
        self.transport = transport
        self.shown = redact(url)
        self.scheme = url.partition("://")[0].lower()
        self.closed = False
        self.attach(self.connect())
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
        self.rate: Fraction = self.video.average_rate or self.video.guessed_rate or Fraction(25)
        self.time_base: Fraction = self.video.time_base or CLOCK_TIME_BASE
        self.live = (self.scheme not in FILE_SCHEMES or self.container.duration is None) if live is None else live
        self.reconnect = (float(reconnect) if self.scheme not in LISTENING_SCHEMES
                          and (self.live or self.scheme not in FILE_SCHEMES) else 0.0)
        self.error: str | None = None
        self.loss: tuple[str, bool] | None = None  # why the last connection ended: (reason, broke); None: its end
        self.lock = threading.Lock()  # close() never frees the container under a running read
        self.closing = threading.Event()  # close() ends a wait between reconnection tries
        self.index = 0  # frames decoded, over every connection
        self.last_time: float | None = None  # the last frame's time, stream seconds
        self.last_captured = time.perf_counter()
        self.offset: float | None = 0.0  # added to a connection's own times; None: set by its first frame
        self.size: tuple[int, int] = (self.video.codec_context.width, self.video.codec_context.height)
        self.items = self.read()
        self.pending: list = []  # items read ahead, when the size is only known from a decoded frame
        if not all(self.size):
            try:
                self.size = self.read_ahead()
            except BaseException:
                self.close()
                raise
        self.description = f"{self.shown} {self.size[0]}x{self.size[1]} at {fps_text(self.rate)} fps"

    def connect(self):
        """A new container for the URL (when it opens, and for each reconnection)."""
        rtsp = self.scheme in ("rtsp", "rtsps")
        tries = (["auto", "tcp"] if self.transport == "auto" else [self.transport]) if rtsp else [None]
        for number, transport in enumerate(tries, start=1):
            try:
                return self.open_container(transport)
            except StreamError:
                if number == len(tries):
                    raise
        raise AssertionError("not reached")

    def open_container(self, transport: str | None):
        options = {"rtsp_transport": transport} if transport in ("tcp", "udp") else {}
        try:
            container = av.open(self.url, timeout=(self.timeout, self.timeout), options=options)
        except av.error.ExitError:  # the interrupt callback: the time-out passed
            raise StreamError(f"no stream at {self.shown!r} (nothing received in {self.timeout:g} s)") from None
        except av.error.ProtocolNotFoundError:
            raise ValueError(f"cannot read {self.shown!r}: this FFmpeg build has no {self.scheme}:// support") from None
        except av.error.InvalidDataError as error:
            raise ValueError(f"not a readable video stream: {self.shown!r} ({error.strerror})") from None
        except av.error.FFmpegError as error:
            reason = error.strerror or type(error).__name__
            refused = transport == "tcp" and not any(word in reason for word in ("Unauthorized", "Forbidden", "Not Found"))
            hint = "; RTSP over tcp: --rtsp-transport udp or auto tries another way" if refused else ""
            raise StreamError(f"no stream at {self.shown!r} ({reason}{hint})") from None
        if not container.streams.video:
            container.close()
            raise ValueError(f"no video stream at {self.shown!r}")
        return container

    def attach(self, container) -> None:
        self.container = container
        self.video = container.streams.video[0]
        self.session_frames = 0  # this connection's frames, and the last one's time on its own clock
        self.session_last: float | None = None

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
        self.closing.set()
        if self.lock.acquire(timeout=self.timeout + 1):  # a read ends within its time-out
            try:
                self.container.close()
            finally:
                self.lock.release()

    def frames(self):
        """Decoded video frames and, interleaved, audio packets (and Notices while it reconnects):
        yields Frame, av.Packet or Notice."""
        while self.pending:
            yield self.pending.pop(0)
        while True:
            yield from self.items
            if self.closed or self.loss is None:
                return
            reason, broke = self.loss
            if not self.reconnect:
                if broke:
                    self.error = f"stream {self.shown!r} broke after {self.index} frames ({reason})"
                return
            container = yield from reconnecting(f"stream {self.shown!r}", reason, self.index, self.reconnect,
                                                self.last_captured, self.connect, self.closing)
            with self.lock:
                if self.closed or container is None:
                    if container is not None:
                        container.close()
                    if not self.closed:
                        self.error = (f"stream {self.shown!r} lost after {self.index} frames ({reason}) "
                                      f"and not back within {self.reconnect:g} s")
                    return
                self.container.close()
                self.attach(container)
                self.offset = None
            self.items = self.read()

    def at_its_end(self) -> bool:
        """Whether a connection that closed had served all it has: a recording (not a camera) declares
        its duration, and its last frame was at its end, to within a second."""
        duration, start = self.container.duration, self.container.start_time or 0
        if not duration or self.session_last is None:
            return False
        return self.session_last - start / 1_000_000 + 1 / float(self.rate) >= (duration / 1_000_000) - 1.0

    def read(self):
        """One connection's items; when they end, `loss` says why: None (the stream's own end) or (reason, broke)."""
        self.loss = None
        audio = self.container.streams.audio[0] if self.container.streams.audio else None
        streams = [self.video] + ([audio] if audio is not None else [])
        with self.lock:
            packets = self.container.demux(streams)
        try:
            while True:
                with self.lock:
                    if self.closed:
                        return
                    packet = next(packets, None)
                    if packet is None:  # the sender closed it (the flush packets are decoded already)
                        self.loss = None if self.at_its_end() else ("the sender closed the stream", False)
                        return
                    items = self.decode(packet) if packet.stream is self.video else self.shifted(packet)
                yield from items
        except av.error.ExitError:  # nothing for `timeout` seconds
            if self.index == 0:
                raise StreamError(f"no frame from {self.shown!r} (nothing decodable in {self.timeout:g} s)") from None
            with self.lock:  # quiet after frames: the decoder may still hold some
                items = [] if self.closed else self.decode(None)
            yield from items
            self.loss = (f"nothing received for {self.timeout:g} s", False)
        except av.error.FFmpegError as error:
            if self.closed:
                return
            if self.index == 0:
                raise StreamError(f"stream {self.shown!r} broke before its first frame ({error.strerror})") from None
            self.loss = (error.strerror or type(error).__name__, True)

    def shifted(self, packet) -> list:
        """An audio packet, its times moved as the frames' are after a reconnection; none without a
        time, or before a new connection's first frame (its move not known yet)."""
        if packet.dts is None or self.offset is None:
            return []
        if self.offset:
            shift = round(self.offset / packet.time_base)
            packet.dts += shift
            if packet.pts is not None:
                packet.pts += shift
        return [packet]

    def decode(self, packet) -> list[Frame]:
        """The frames one packet (None: flush the decoder) completes; a damaged packet (lost
        datagrams) yields none rather than ending the stream."""
        started = time.perf_counter()
        try:
            decoded = self.video.decode(packet)
        except av.error.InvalidDataError:
            return []
        frames = []
        for picture in decoded:
            own = self.session_last = frame_seconds(picture.time, self.session_frames, self.rate, self.session_last)
            self.session_frames += 1
            image = picture.to_ndarray(format="bgr24")
            if (image.shape[1], image.shape[0]) != self.size and all(self.size):
                image = cv2.resize(image, self.size)  # a stream back at another size: one output size
            captured = time.perf_counter()
            if self.offset is None:  # the first frame after a reconnection: the times run on past the gap
                self.offset = self.last_time + max(captured - self.last_captured, 1 / float(self.rate)) - own
            timestamp = self.last_time = own + self.offset
            self.last_captured = captured
            frames.append(Frame(self.index, image, timestamp, captured, (captured - started) * 1000))
            self.index += 1
            started = captured
        return frames
