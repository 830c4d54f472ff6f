"""Where results go: JSON lines, class-id masks, annotated images. Each sink is a context
manager whose close() is safe to call twice; output paths are checked before any work starts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from streamsee.core.resource import Resource
from streamsee.core.result import PathResult


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


class JsonlSink(Resource):
    """One JSON object per frame and path, flushed as it goes (nothing is lost on a crash)."""

    def __init__(self, path: os.PathLike | str):
        self.path = check_writable(path)
        self._file = open(self.path, "w", encoding="utf-8")

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def write(self, frame: int, t: float, output: PathResult, analysed: bool = True, latency_ms: float | None = None):
        result = output.result
        row = {"frame": frame, "t": round(t, 6), "mode": output.mode, "analysed": analysed,
               "latency_ms": round(output.latency_ms if latency_ms is None else latency_ms, 2),
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

    def write(self, frame: int, class_map: np.ndarray) -> Path:
        path = self.folder / f"{frame:06d}.png"
        if not cv2.imwrite(str(path), class_map):
            raise OutputError(f"cannot write mask {str(path)!r}")
        return path


VIDEO_CODECS = {".mp4": ("libx264", "mpeg4"), ".mkv": ("libx264", "mpeg4"), ".mov": ("libx264", "mpeg4"),
                ".webm": ("libvpx-vp9", "libvpx")}


class VideoSink(Resource):
    """Annotated frames into a video file through PyAV: H.264 where available, the source's frame
    rate and timestamps kept exactly (Fractions, no rounding), its audio packets copied through.

    close() flushes the encoder and finalises the file; it is safe twice, and every exit path
    should reach it (use `with`), so the file plays and holds every frame written so far.
    """

    def __init__(self, path: os.PathLike | str, rate, size: tuple[int, int], time_base=None, audio=None):
        import av

        self.path = check_writable(path)
        codecs = VIDEO_CODECS.get(self.path.suffix.lower())
        if codecs is None:
            raise ValueError(f"output {str(self.path)!r}: unknown video type; use one of {', '.join(VIDEO_CODECS)}")
        codec = next((name for name in codecs if name in av.codecs_available), codecs[-1])
        width, height = size[0] // 2 * 2, size[1] // 2 * 2  # 4:2:0 needs even sides
        self.container = av.open(str(self.path), "w")
        self.stream = self.container.add_stream(codec, rate=rate)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "yuv420p"
        self.time_base = time_base or 1 / rate
        self.stream.time_base = self.time_base
        self.audio = None
        if audio is not None:
            try:
                self.audio = self.container.add_stream_from_template(audio)
            except (ValueError, av.error.FFmpegError):
                self.audio = None  # this container cannot hold that audio codec: video only
        self.frames = 0
        self.closed = False

    def write(self, image: np.ndarray, timestamp: float) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(image[: self.stream.height, : self.stream.width], format="bgr24")
        frame.pts = round(timestamp / self.time_base)
        frame.time_base = self.time_base
        self.container.mux(self.stream.encode(frame))
        self.frames += 1

    def write_audio(self, packet) -> None:
        if self.audio is not None:
            packet.stream = self.audio
            self.container.mux(packet)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.container.mux(self.stream.encode(None))
        finally:
            self.container.close()
