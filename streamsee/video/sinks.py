"""Where results go: JSON lines, class-id masks, annotated video. Each sink is a context manager
whose close() is safe to call twice; output paths are checked before any work starts.

A file output (the JSON lines, the video, the statistics) is written under a temporary name
beside its path (`rows.jsonl` -> `rows.partial-PID.jsonl`) and renamed over the path when it is
closed, so nothing the user already has is touched before the run starts. `discard()` removes
the temporary file instead and leaves the path as it was: for a run that failed before it
processed anything. A run that processed frames keeps them, however it ended.
"""

from __future__ import annotations

import json
import math
import os
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from streamsee.core.resource import Resource
from streamsee.core.result import PathResult
from streamsee.core.signals import signals_held


class OutputError(PermissionError):
    """An output path that cannot be written."""


def check_writable(path: os.PathLike | str, folder: bool = False) -> Path:
    """Create `path` (a folder) or its parent, and prove it can be written, before processing starts."""
    path = Path(path)
    directory = path if folder else path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".streamsee-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise OutputError(f"cannot write output {str(path)!r}: {error.strerror or error}") from None
    if not folder and path.is_dir():
        raise OutputError(f"cannot write output {str(path)!r}: it is a folder")
    return path


def partial_path(path: Path) -> Path:
    """The temporary name `path` is written under: same folder and suffix (which picks the format)."""
    return path.with_name(f"{path.stem}.partial-{os.getpid()}{path.suffix}")


def replace(partial: Path, path: Path) -> None:
    """Rename `partial` over `path` (atomic within a folder)."""
    try:
        os.replace(partial, path)
    except OSError as error:
        raise OutputError(f"cannot write output {str(path)!r}: {error.strerror or error}") from None


def write_text(path: os.PathLike | str, text: str) -> Path:
    """`text` into `path` through a temporary name: the old file stays whole until the new one is."""
    path = check_writable(path)
    partial = partial_path(path)
    try:
        partial.write_text(text, encoding="utf-8")
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise OutputError(f"cannot write output {str(path)!r}: {error.strerror or error}") from None
    replace(partial, path)
    return path


def finite_or_none(value: float, digits: int) -> float | None:
    """`value` rounded, or None for NaN and infinities (JSON has no NaN)."""
    return round(value, digits) if value is not None and math.isfinite(value) else None


class FileOutput(Resource):
    """A file written under `partial` and renamed over `path` by close(); discard() drops it.
    Subclasses open `self.partial` and implement `_finish()` (flush and close what they opened)."""

    def __init__(self, path: os.PathLike | str):
        self.path = check_writable(path)
        self.partial = partial_path(self.path)
        self.closed = False

    def _finish(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the file and put it in place; safe twice."""
        if self.closed:
            return
        self.closed = True
        try:
            self._finish()
        finally:
            replace(self.partial, self.path)

    def discard(self) -> None:
        """Drop what was written and leave `path` as it was; safe twice, and after close() does nothing."""
        if self.closed:
            return
        self.closed = True
        try:
            self._finish()
        except Exception:  # noqa: BLE001 - the file is being thrown away
            pass
        finally:
            self.partial.unlink(missing_ok=True)


class JsonlSink(FileOutput):
    """One JSON object per frame and path, flushed as it goes (nothing is lost on a crash). A time
    the source could not give (NaN) is written as null: the file is always valid JSON lines."""

    def __init__(self, path: os.PathLike | str):
        super().__init__(path)
        try:
            self._file = open(self.partial, "w", encoding="utf-8")
        except OSError as error:
            raise OutputError(f"cannot write output {str(self.path)!r}: {error.strerror or error}") from None

    def _finish(self) -> None:
        self._file.close()

    def write(self, frame: int, t: float, output: PathResult, analysed: bool = True, latency_ms: float | None = None):
        result = output.result
        row = {"frame": frame, "t": finite_or_none(t, 6), "mode": output.mode, "analysed": analysed,
               "latency_ms": finite_or_none(output.latency_ms if latency_ms is None else latency_ms, 2),
               "boxes": result.boxes_json() if output.mode == "boxes" else [],
               "segments": result.segments_json() if output.mode == "segment" else []}
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()


class MaskSink(Resource):
    """DIR/NNNNNN.png: uint8 class id per pixel at the source resolution, 255 where no class."""

    def __init__(self, folder: os.PathLike | str):
        self.folder = check_writable(folder, folder=True)
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def discard(self) -> None:
        """Nothing to undo: masks are only written for processed frames."""
        self.closed = True

    def write(self, frame: int, class_map: np.ndarray) -> Path:
        path = self.folder / f"{frame:06d}.png"
        if not cv2.imwrite(str(path), class_map):
            raise OutputError(f"cannot write mask {str(path)!r}")
        return path


VIDEO_CODECS = {".mp4": ("libx264", "mpeg4"), ".mkv": ("libx264", "mpeg4"), ".mov": ("libx264", "mpeg4"),
                ".webm": ("libvpx-vp9", "libvpx")}
# Each encoder at a speed that keeps up with a live source on two cores: the encoder's defaults (x264's
# "medium", libvpx's "good" at cpu-used 0) cost more than the analysis itself. x264 "veryfast" writes a
# 1280x480 frame 2.2x faster than "medium" here (docs/latency.md) for a file about as large.
ENCODER_OPTIONS = {"libx264": {"preset": "veryfast"},
                   "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "row-mt": "1"},
                   "libvpx": {"deadline": "realtime", "cpu-used": "8"}}
# Audio encoders, in order of preference, for audio a container cannot hold as it is (AAC in .webm).
AUDIO_CODECS = {".mp4": ("aac",), ".mkv": ("libopus", "aac"), ".mov": ("aac",), ".webm": ("libopus", "libvorbis")}


def warn_on_stderr(message: str) -> None:
    print(f"streamsee: warning: {message}", file=sys.stderr, flush=True)


class AudioTranscoder:
    """Audio packets of `template` (an input stream) decoded and encoded again into a new stream of
    `container` with the first of `encoders` available: for audio the container cannot hold as it
    is. Raises ValueError when none can be set up."""

    def __init__(self, container, template, encoders: tuple[str, ...]):
        import av

        name = next((name for name in encoders if name in av.codecs_available), None)
        if name is None:
            raise ValueError(f"no encoder here for {'/'.join(encoders)}")
        rate = 48000 if "opus" in name else template.rate  # Opus runs at 48 kHz
        try:
            self.stream = container.add_stream(name, rate=rate)
            self.stream.layout = template.layout.name if template.channels <= 2 else "stereo"
        except (ValueError, av.error.FFmpegError) as error:
            raise ValueError(f"{name}: {error}") from None
        self.decoder = template.codec_context
        self.name = name

    def encode(self, packet) -> list:
        """The encoded packets for one input packet (none for one that does not decode)."""
        import av

        try:
            frames = self.decoder.decode(packet)
        except av.error.FFmpegError:
            return []
        return [out for frame in frames for out in self.stream.encode(frame)]

    def flush(self) -> list:
        """What the decoder and the encoder still hold."""
        return self.encode(None) + list(self.stream.encode(None))



class VideoSink(FileOutput):
    """Annotated frames into a video file through PyAV: H.264 where available, the source's frame
    rate and timestamps kept exactly (Fractions, no rounding), its audio packets copied through, or,
    where the container cannot hold that audio (AAC in .webm), encoded again (AUDIO_CODECS: Opus for
    .webm); audio that can be neither is left out with one line to `warn` (default: stderr).

    A frame whose time is unknown (NaN or infinite, as PyAV gives for a frame flushed after a
    network read timed out) or not after the previous one's is placed one frame after the previous.

    close() flushes the encoder, finalises the file and renames it into place; it is safe twice,
    and every exit path should reach it (use `with`), so the file plays and holds every frame
    written so far.
    """

    def __init__(self, path: os.PathLike | str, rate, size: tuple[int, int], time_base=None, audio=None,
                 warn=None):
        import av

        codecs = VIDEO_CODECS.get(Path(path).suffix.lower())
        if codecs is None:
            raise ValueError(f"output {str(path)!r}: unknown video type; use one of {', '.join(VIDEO_CODECS)}")
        super().__init__(path)
        rate = Fraction(rate)
        codec = next((name for name in codecs if name in av.codecs_available), codecs[-1])
        width, height = size[0] // 2 * 2, size[1] // 2 * 2  # 4:2:0 needs even sides
        try:
            self.container = av.open(str(self.partial), "w")
        except (OSError, av.error.FFmpegError) as error:
            raise OutputError(f"cannot write output {str(self.path)!r}: {error}") from None
        try:
            self.stream = self.container.add_stream(codec, rate=rate, options=ENCODER_OPTIONS.get(codec, {}))
            self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "yuv420p"
        except BaseException:
            self.container.close()
            self.partial.unlink(missing_ok=True)
            raise
        self.time_base = time_base or 1 / rate
        self.stream.time_base = self.stream.codec_context.time_base = self.time_base  # exact times in the encoder too
        self.step = max(1, round(1 / (rate * self.time_base)))  # one frame, in time_base units
        self.last_pts: int | None = None
        self.audio = self.transcoder = None
        if audio is not None:
            self.add_audio(audio, warn or warn_on_stderr)
        self.frames = 0

    def add_audio(self, audio, warn) -> None:
        """Copy `audio` through, or encode it again where the container cannot hold it as it is."""
        import av

        try:
            self.audio = self.container.add_stream_from_template(audio)
            return
        except (ValueError, av.error.FFmpegError):
            pass  # this container cannot hold that codec as it is
        suffix = self.path.suffix.lower()
        try:
            self.transcoder = AudioTranscoder(self.container, audio, AUDIO_CODECS[suffix])
        except ValueError as error:
            warn(f"the audio ({audio.codec_context.name}) is left out of {str(self.path)!r}: a {suffix} file "
                 f"cannot hold it and it cannot be encoded again ({error})")

    def pts(self, timestamp: float) -> int:
        """The frame's presentation time in time_base units, always after the previous frame's."""
        pts = round(timestamp / self.time_base) if timestamp is not None and math.isfinite(timestamp) else None
        if self.last_pts is not None and (pts is None or pts <= self.last_pts):
            pts = self.last_pts + self.step
        self.last_pts = pts if pts is not None else 0
        return self.last_pts

    def write(self, image: np.ndarray, timestamp: float) -> None:
        import av

        # OpenCV's BGR -> I420 (BT.601, limited range, as FFmpeg's swscale does it) takes half swscale's time
        planes = cv2.cvtColor(image[: self.stream.height, : self.stream.width], cv2.COLOR_BGR2YUV_I420)
        frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        frame.pts = self.pts(timestamp)
        frame.time_base = self.time_base
        with signals_held():  # packets the encoder gave back are written, or the file may lose its keyframe
            self.container.mux(self.stream.encode(frame))
        self.frames += 1

    def write_audio(self, packet) -> None:
        with signals_held():
            if self.audio is not None:
                packet.stream = self.audio
                self.container.mux(packet)
            elif self.transcoder is not None:
                self.container.mux(self.transcoder.encode(packet))

    def _finish(self) -> None:
        try:
            self.container.mux(self.stream.encode(None))
            if self.transcoder is not None:
                self.container.mux(self.transcoder.flush())
        finally:
            self.container.close()
