"""Frames from a source through the chosen mode (threaded: stream.py) into the outputs asked for.

Files and images go through every frame, in order; each output is a context manager, so whatever
ends the run (end of input, an error, Ctrl-C) finalises what was written.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from pathlib import Path

import cv2

from .analyse import Analyser
from .drawing import HudAnnotator
from .resource import Resource
from .sinks import VIDEO_CODECS, JsonlSink, MaskSink, OutputError, VideoSink, check_writable
from .sources import IMAGE_SUFFIXES, ImageFiles, VideoFile
from .stats import Snapshot
from .stream import Analysed, Stream


def open_source(spec: os.PathLike | str) -> VideoFile | ImageFiles:
    """An image, a folder of images, or a video file."""
    path = Path(spec)
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFiles(path)
    return VideoFile(path)


class ImageSink(Resource):
    """Annotated stills: one file for one image, or a folder keeping the input's file names."""

    def __init__(self, path: os.PathLike | str, names: list[str], folder: bool):
        self.folder = folder
        self.path = check_writable(path, folder=self.folder)
        self.names = names
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def write(self, image, index: int) -> None:
        target = self.path / self.names[index] if self.folder else self.path
        if not cv2.imwrite(str(target), image):
            raise OutputError(f"cannot write output {str(target)!r}")


def process(source: VideoFile | ImageFiles, analyser: Analyser, output: os.PathLike | str | None = None,
            jsonl: os.PathLike | str | None = None, masks: os.PathLike | str | None = None,
            budget_ms: float = 250.0, hud: bool = True) -> Snapshot:
    """Analyse the frames; write the annotated output (with the HUD), JSON lines and masks.
    Returns the run's statistics. Outputs are opened (and so checked) before any frame is read."""
    if masks is not None and "segment" not in analyser.paths:
        raise ValueError("--save-masks needs --mode segment or compare")
    with ExitStack() as outputs:
        rows = outputs.enter_context(JsonlSink(jsonl)) if jsonl else None
        mask_sink = outputs.enter_context(MaskSink(masks)) if masks else None
        video = images = None
        if output is not None:
            if isinstance(source, ImageFiles):
                images = outputs.enter_context(ImageSink(output, [p.name for p in source.paths], source.from_folder))
            else:
                if Path(output).suffix.lower() not in VIDEO_CODECS:
                    raise ValueError(f"output {str(output)!r}: a video needs one of {', '.join(VIDEO_CODECS)}")
                width = source.video.codec_context.width * (2 if analyser.mode == "compare" else 1)
                video = outputs.enter_context(VideoSink(output, source.rate, (width, source.video.codec_context.height),
                                                        source.video.time_base, source.audio))
        stream = outputs.enter_context(Stream(source, analyser, budget_ms=budget_ms))
        hud_annotator = HudAnnotator()
        for item in stream:
            if not isinstance(item, Analysed):  # an audio packet, copied through
                if video is not None:
                    video.write_audio(item)
                continue
            frame = item.frame
            if video is not None or images is not None:
                with stream.stats.stage("draw"):
                    annotated = analyser.annotate(frame.image, item.outputs)
                    if hud:
                        annotated = hud_annotator.annotate(annotated, stream.stats.snapshot())
                with stream.stats.stage("write"):
                    if video is not None:
                        video.write(annotated, frame.timestamp)
                    else:
                        images.write(annotated, frame.index)
            latency_ms = (time.perf_counter() - frame.captured) * 1000  # capture -> rendered
            stream.stats.latency(latency_ms)
            for path_output in item.outputs:
                if rows is not None:
                    rows.write(frame.index, frame.timestamp, path_output, analysed=item.analysed,
                               latency_ms=latency_ms)
                if mask_sink is not None and path_output.mode == "segment":
                    mask_sink.write(frame.index, path_output.result.class_map)
        snapshot = stream.stats.snapshot(whole_run=True)
    if source.error:
        raise ValueError(f"{source.error} ({snapshot.frames} frames before it were processed and written)")
    return snapshot


def render_summary(snapshot: Snapshot, mode: str, console) -> None:
    """The end-of-run table: latency, rates, frames analysed, skipped and dropped."""
    from rich.table import Table

    table = Table(title=f"streamsee {mode}: {snapshot.frames} frames")
    for column in ("latency p50 ms", "p95 ms", "max ms", "analysed fps", "analysed", "skipped", "dropped"):
        table.add_column(column, justify="right")
    table.add_row(f"{snapshot.latency_p50_ms:.1f}", f"{snapshot.latency_p95_ms:.1f}", f"{snapshot.latency_max_ms:.1f}",
                  f"{snapshot.analysed_fps:.1f}", str(snapshot.analysed), str(snapshot.skipped), str(snapshot.dropped))
    console.print(table)
    console.print("mean ms per stage: " + ", ".join(f"{name} {ms:.1f}" for name, ms in snapshot.stage_ms.items()))
