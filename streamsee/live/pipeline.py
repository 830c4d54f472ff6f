"""Frames from a source through the chosen mode (threaded: stream.py) into the outputs asked for.

Files and images go through every frame, in order; each output is a context manager, so whatever
ends the run (end of input, an error, Ctrl-C, SIGTERM) finalises what was written, and then the
run's figures are handed on (`finished`) for the summary and the statistics file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING

from streamsee.core.calibration import CalibrationError
from streamsee.core.config import RunConfig
from streamsee.core.snapshot import Snapshot
from streamsee.live.analyser import Analyser
from streamsee.live.outputs import ImageSink
from streamsee.live.source_run import RunReport, SourceNews, SourceRun, print_on_stderr
from streamsee.live.stream import Stream
from streamsee.render.display import Window, display_available
from streamsee.render.terminal import TerminalView
from streamsee.video.sources import ImageFiles, Paced, VideoFile, open_source

if TYPE_CHECKING:
    from streamsee.live.web import BrowserView

__all__ = ["CalibrationError", "ImageSink", "RunReport", "SourceNews", "open_source", "process",
           "render_summary"]


def process(source, analyser: Analyser, output: os.PathLike | str | None = None,
            jsonl: os.PathLike | str | None = None, masks: os.PathLike | str | None = None,
            budget_ms: float = 250.0, hud: bool = True, window: Window | None = None,
            terminal: TerminalView | None = None, queue_size: int = 4,
            finished: Callable[[RunReport], None] | None = None, live: bool | None = None,
            notify: Callable[[str], None] | None = None, watch: Callable[[Stream], None] | None = None,
            browser: BrowserView | None = None) -> RunReport:
    """Analyse the frames; show them in `window` and the figures in `terminal` (each optional), and in the
    `browser` view (live.web) the figures, the results and, while someone watches it, the frames;
    write the annotated output (with the HUD), JSON lines and masks. `live` overrides the source's
    policy (None: the source's). While a live source reconnects, `notify` hears one line when it is
    lost and one when it is back (default: stderr), the HUD says so, and the window keeps showing the
    last frame; the outputs stay open and go on with the frames after the gap. Live, every frame is
    drawn with the newest result (rendering never waits for the analysis), and `notify` also hears
    the one line said when results come later than `budget_ms` (live.governor). `watch(stream)` is
    called once the Stream runs (scripts/soak.py samples its queues).

    Outputs are opened (and so checked) before any frame is read, written under temporary names,
    and finalised and renamed into place on every way out (end, q, Ctrl-C, SIGTERM, errors) once
    a frame was processed; then `finished(report)` is called, on every one of those ways out, so
    the summary and the statistics are never lost. A run that fails before it processed a frame
    discards its outputs (whatever the paths held stays) and calls nothing. A source that ended
    abnormally after frames (`source.error`) raises ValueError after all that."""
    run = SourceRun(source, analyser, output=output, jsonl=jsonl, masks=masks, budget_ms=budget_ms, hud=hud,
                    queue_size=queue_size, live=live, notify=notify, shown=window is not None,
                    views=(terminal, browser), browser=browser, finished=finished)
    try:
        if watch is not None:
            watch(run.stream)
        run.begin()
        for item in run.stream:
            shown = run.take(item)
            if shown is not None and window is not None and not window.show(shown):
                run.ended = "quit from the window"
                break
    except BaseException as error:
        run.end(error)
        raise
    report = run.end()
    if run.failed:
        raise ValueError(f"{run.failed} ({report.snapshot.frames} frames before it were processed and written)")
    return report


def render_summary(snapshot: Snapshot, mode: str, console, name: str | None = None) -> None:
    """The end-of-run table (of the source `name`, in a run with several): the run (capture -> rendered) and
    each path (capture -> its result): latency p50/p95/max, analysed fps, frames analysed, skipped and dropped."""
    from rich.table import Table

    table = Table(title=f"streamsee {mode}{' ' + name if name else ''}: {snapshot.frames} frames",
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
        masks: os.PathLike | str | None = None, console=None,
        finished: Callable[[RunReport], None] | None = None) -> RunReport:
    """The main job: open the source (or the camera, or with neither the bundled sample), the browser view for
    config.serve, the analyser, the window when there is a display and the terminal view when `console` is a
    terminal, and process it
    (`finished` as for `process`: called with the report on every way out once frames were processed)."""
    # Images skipped as unreadable are reported in the RunReport, which the caller prints after the run:
    # a line written from the reading thread meanwhile would tear the terminal view, redrawn in place.
    warn = None if console is None else (lambda message: None)
    notify = None if console is None else (
        lambda line: console.print(f"streamsee: {line}", markup=False, highlight=False, soft_wrap=True))
    with ExitStack() as stack:
        opened = stack.enter_context(open_source(source, camera=camera, timeout=config.timeout_s, warn=warn,
                                                 live=config.live, transport=config.rtsp_transport,
                                                 reconnect=config.reconnect_s))
        if source is None and camera is None and console is not None:
            console.print(f"streamsee: playing {opened.description}")
        browser = None
        if config.serve is not None:  # before the models load: a port in use is said at once
            from streamsee.live.web import BrowserView  # aiohttp, loaded only for it

            browser = stack.enter_context(BrowserView(config.serve, config.serve_token, opened.description,
                                                      notify=notify or print_on_stderr))
        analyser = stack.enter_context(Analyser.from_config(config))
        live = opened.live if config.live is None else config.live  # --live on a file plays it at its own rate
        paced = config.realtime or (live and isinstance(opened, (VideoFile, ImageFiles)))
        frames = Paced(opened) if paced and not opened.live else opened
        window = (stack.enter_context(Window(f"streamsee {config.mode}: {opened.description}"))
                  if config.display and display_available() else None)
        total = (len(opened.paths) if isinstance(opened, ImageFiles)
                 else opened.video.frames or None if isinstance(opened, VideoFile) else None)  # a hint only
        terminal = (stack.enter_context(TerminalView(opened.description, live=live or frames.live, total=total,
                                                     console=console))
                    if console is not None and console.is_terminal else None)
        return process(frames, analyser, output=output, jsonl=jsonl, masks=masks, budget_ms=config.budget_ms,
                       hud=config.hud, window=window, terminal=terminal, queue_size=config.queue_size,
                       finished=finished, live=None if config.live is None else live, notify=notify, browser=browser)
