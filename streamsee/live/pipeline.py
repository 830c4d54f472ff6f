"""Frames from a source through the chosen mode (threaded: stream.py) into the outputs asked for.

Files and images go through every frame, in order; each output is a context manager, so whatever
ends the run (end of input, an error, Ctrl-C) finalises what was written.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import cv2

from streamsee.core.config import RunConfig
from streamsee.core.resource import Resource
from streamsee.core.snapshot import Snapshot
from streamsee.live.analyser import Analyser
from streamsee.live.stream import Analysed, Stream
from streamsee.render.display import Window, display_available
from streamsee.render.drawing import HudAnnotator
from streamsee.render.terminal import TerminalView
from streamsee.video.sinks import VIDEO_CODECS, JsonlSink, MaskSink, OutputError, VideoSink, check_writable
from streamsee.video.sources import ImageFiles, Paced, VideoFile, open_source

__all__ = ["ImageSink", "RunReport", "open_source", "process", "render_summary"]


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


@dataclass(frozen=True)
class RunReport:
    """How a run went: its statistics, what ended it ("end of input" or "quit from the window"),
    and its wall-clock seconds from the first frame read to the last one rendered."""

    snapshot: Snapshot
    ended: str
    seconds: float

    @property
    def frames_per_second(self) -> float:
        return self.snapshot.frames / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict:
        return {"ended": self.ended, "seconds": round(self.seconds, 3),
                "frames_per_second": round(self.frames_per_second, 2), **self.snapshot.to_json()}


def process(source, analyser: Analyser, output: os.PathLike | str | None = None,
            jsonl: os.PathLike | str | None = None, masks: os.PathLike | str | None = None,
            budget_ms: float = 250.0, hud: bool = True, window: Window | None = None,
            terminal: TerminalView | None = None, queue_size: int = 4) -> RunReport:
    """Analyse the frames; show them in `window` and the figures in `terminal` (each optional);
    write the annotated output (with the HUD), JSON lines and masks. Outputs are opened (and so
    checked) before any frame is read, and finalised on every way out (end, q, Ctrl-C, errors)."""
    if masks is not None and "segment" not in analyser.paths:
        raise ValueError("--save-masks needs --mode segment or compare")
    ended = "end of input"
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
                width, height = source.size
                width *= 2 if analyser.mode == "compare" else 1
                video = outputs.enter_context(VideoSink(output, source.rate, (width, height), source.time_base,
                                                        source.audio))
        stream = outputs.enter_context(Stream(source, analyser, queue_size=queue_size, budget_ms=budget_ms))
        hud_annotator = HudAnnotator()
        started = time.perf_counter()
        drawing = video is not None or images is not None or window is not None
        for item in stream:
            if not isinstance(item, Analysed):  # an audio packet, copied through
                if video is not None:
                    video.write_audio(item)
                continue
            frame = item.frame
            if drawing:
                with stream.stats.stage("draw"):
                    annotated = analyser.annotate(frame.image, item.outputs)
                    if hud:
                        annotated = hud_annotator.annotate(annotated, stream.stats.snapshot())
                with stream.stats.stage("write"):
                    if video is not None:
                        video.write(annotated, frame.timestamp)
                    elif images is not None:
                        images.write(annotated, frame.index)
            keep_going = window.show(annotated) if window is not None else True
            latency_ms = (time.perf_counter() - frame.captured) * 1000  # capture -> rendered
            stream.stats.latency(latency_ms)
            for path_output in item.outputs:
                if rows is not None:
                    rows.write(frame.index, frame.timestamp, path_output, analysed=item.analysed,
                               latency_ms=latency_ms)
                if mask_sink is not None and path_output.mode == "segment":
                    mask_sink.write(frame.index, path_output.result.class_map)
            if terminal is not None:
                terminal.update(stream.stats.snapshot())
            if not keep_going:
                ended = "quit from the window"
                break
        snapshot = stream.stats.snapshot(whole_run=True)
        seconds = time.perf_counter() - started
    if terminal is not None:
        terminal.update(snapshot, force=True)
    if source.error and ended == "end of input":
        raise ValueError(f"{source.error} ({snapshot.frames} frames before it were processed and written)")
    return RunReport(snapshot, ended, seconds)


def render_summary(snapshot: Snapshot, mode: str, console) -> None:
    """The end-of-run table: the run (capture -> rendered) and each path (capture -> its result):
    latency p50/p95/max, analysed fps, frames analysed, skipped and dropped."""
    from rich.table import Table

    table = Table(title=f"streamsee {mode}: {snapshot.frames} frames",
                  caption="latency: run = capture -> rendered; a path = capture -> its result")
    for column in ("", "latency p50 ms", "p95 ms", "max ms", "analysed fps", "analysed", "skipped", "dropped"):
        table.add_column(column, justify="right")

    def add(name: str, figures: Snapshot, dropped: str) -> None:
        table.add_row(name, f"{figures.latency_p50_ms:.1f}", f"{figures.latency_p95_ms:.1f}",
                      f"{figures.latency_max_ms:.1f}", f"{figures.analysed_fps:.1f}", str(figures.analysed),
                      str(figures.skipped), dropped)

    add("run", snapshot, str(snapshot.dropped))
    for name, path in snapshot.paths.items():
        add(name, path, "")
    console.print(table)
    console.print("mean ms per stage: " + ", ".join(f"{name} {ms:.1f}" for name, ms in snapshot.stage_ms.items()))


def run(config: RunConfig, source: os.PathLike | str | None = None, camera: int | str | None = None, *,
        output: os.PathLike | str | None = None, jsonl: os.PathLike | str | None = None,
        masks: os.PathLike | str | None = None, console=None) -> RunReport:
    """The main job: open the source (or the camera, or with neither the bundled sample), the analyser,
    the window when there is a display and the terminal view when `console` is a terminal, and process it."""
    with ExitStack() as stack:
        opened = stack.enter_context(open_source(source, camera=camera, timeout=config.timeout_s))
        if source is None and camera is None and console is not None:
            console.print(f"streamsee: playing {opened.description}")
        analyser = stack.enter_context(Analyser.from_config(config))
        frames = Paced(opened) if config.realtime and not opened.live else opened
        window = (stack.enter_context(Window(f"streamsee {config.mode}: {opened.description}"))
                  if config.display and display_available() else None)
        total = (len(opened.paths) if isinstance(opened, ImageFiles)
                 else opened.video.frames or None if isinstance(opened, VideoFile) else None)
        terminal = (stack.enter_context(TerminalView(opened.description, live=frames.live, total=total,
                                                     console=console))
                    if console is not None and console.is_terminal else None)
        return process(frames, analyser, output=output, jsonl=jsonl, masks=masks, budget_ms=config.budget_ms,
                       hud=config.hud, window=window, terminal=terminal, queue_size=config.queue_size)
