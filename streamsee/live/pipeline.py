"""Frames from a source through the chosen mode (threaded: stream.py) into the outputs asked for.

Files and images go through every frame, in order; each output is a context manager, so whatever
ends the run (end of input, an error, Ctrl-C, SIGTERM) finalises what was written, and then the
run's figures are handed on (`finished`) for the summary and the statistics file.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING

from streamsee.core.calibration import CalibrationError
from streamsee.core.config import RunConfig
from streamsee.core.snapshot import Snapshot
from streamsee.live.analyser import Analyser
from streamsee.live.outputs import ImageSink, open_outputs
from streamsee.live.stream import Analysed, Stream
from streamsee.render.display import Window, display_available
from streamsee.render.drawing import HudAnnotator
from streamsee.render.terminal import TerminalView
from streamsee.video.sources import ImageFiles, Notice, Paced, VideoFile, open_source

if TYPE_CHECKING:
    from streamsee.live.web import BrowserView

__all__ = ["CalibrationError", "ImageSink", "RunReport", "open_source", "process",
           "render_summary"]


@dataclass(frozen=True)
class RunReport:
    """How a run went: its statistics, what ended it ("end of input", "quit from the window",
    "interrupted (Ctrl-C)", or the message of the error that stopped it), its wall-clock seconds
    from the first frame read to the last one rendered, the inputs skipped as unreadable, the gaps
    of a live source that was lost and reconnected (see SourceNews.gaps), a video file's damage
    (packets skipped as damaged, frames lost to them: VideoFile.damage), and for a live source the
    analysis cost levels held against the budget (live.governor.CostGovernor.report; None for files)."""

    snapshot: Snapshot
    ended: str
    seconds: float
    unreadable: tuple[str, ...] = ()
    gaps: tuple[dict, ...] = ()
    damaged: dict | None = None
    cost: dict | None = None

    @property
    def frames_per_second(self) -> float:
        return self.snapshot.frames / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict:
        return {"ended": self.ended, "seconds": round(self.seconds, 3),
                "frames_per_second": round(self.frames_per_second, 2), **self.snapshot.to_json(),
                "unreadable": list(self.unreadable), "gaps": list(self.gaps),
                "damaged": dict(self.damaged or {"packets": 0, "frames_lost": 0}), "cost": self.cost}


def print_on_stderr(line: str) -> None:
    print(f"streamsee: {line}", file=sys.stderr, flush=True)


class SourceNews:
    """What a live source says of itself while it reconnects (video.reconnect.Notice): one line for
    the terminal (`notify`) when it is lost and when it is back, the HUD's status line (`line()`,
    until a few seconds after it is back), and its gaps for the report: the frames before each,
    when it was lost and back (seconds from `started`, back None if it never was)."""

    SHOW_BACK = 3.0  # seconds the HUD says the source is back

    def __init__(self, notify: Callable[[str], None], started: float):
        self.notify = notify
        self.started = started
        self.status: str | None = None
        self.until: float | None = None
        self.gaps: list[dict] = []

    def hear(self, notice: Notice) -> None:
        at = round(notice.at - self.started, 3)
        if notice.state == "lost":
            self.notify(notice.text)
            self.gaps.append({"frames_before": notice.frames, "lost_at_s": at, "back_at_s": None})
            self.status, self.until = "source lost: reconnecting", None
        elif notice.state == "waiting":
            self.status = notice.text
        elif notice.state == "back":
            self.notify(notice.text)
            if self.gaps:
                self.gaps[-1]["back_at_s"] = at
            self.status = f"source back after {at - self.gaps[-1]['lost_at_s']:.1f} s" if self.gaps else "source back"
            self.until = notice.at + self.SHOW_BACK

    def line(self) -> str | None:
        if self.until is not None and time.perf_counter() > self.until:
            self.status = self.until = None
        return self.status


def ended_by(error: BaseException) -> str:
    """What a run's RunReport says ended it, for an exception."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return str(error) or type(error).__name__


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
    if masks is not None and "segment" not in analyser.paths:
        raise ValueError("--save-masks needs --mode segment or compare")
    ended = "end of input"
    written = 0
    stream: Stream | None = None
    started = last_rendered = time.perf_counter()
    news = SourceNews(notify or print_on_stderr, started)
    try:
        with ExitStack() as outputs:
            sinks = open_outputs(outputs, source, analyser, output, jsonl, masks)
            rows, mask_sink, video, images = sinks
            try:
                stream = outputs.enter_context(Stream(source, analyser, queue_size=queue_size, budget_ms=budget_ms,
                                                      live=live, notify=news.notify))
                if watch is not None:
                    watch(stream)
                hud_annotator = HudAnnotator()
                started = last_rendered = news.started = time.perf_counter()
                drawing = video is not None or images is not None or window is not None
                views = [view for view in (terminal, browser) if view is not None]  # update(snapshot)
                annotated = None
                for item in stream:
                    if isinstance(item, Notice):  # a live source lost and reconnecting: no frame meanwhile
                        news.hear(item)
                        if annotated is not None and (window is not None or browser is not None):  # they stay alive
                            status = news.line() if hud else None
                            shown = hud_annotator.status_only(annotated, status) if status else annotated
                            if browser is not None:
                                browser.show(shown)
                            if window is not None and not window.show(shown):
                                ended = "quit from the window"
                                break
                        continue
                    if not isinstance(item, Analysed):  # an audio packet, copied through
                        if video is not None:
                            video.write_audio(item)
                        continue
                    frame = item.frame
                    draw = drawing or (browser is not None and browser.watched)  # drawn for the browser only if watched
                    if draw:
                        with stream.stats.stage("draw"):
                            annotated = analyser.annotate(frame.image, item.outputs)
                            if hud:
                                annotated = hud_annotator.annotate(annotated, stream.stats.snapshot(), news.line())
                        with stream.stats.stage("write"):
                            if video is not None:
                                video.write(annotated, frame.timestamp)
                            elif images is not None:
                                images.write(annotated, frame.index)
                    keep_going = window.show(annotated) if window is not None else True
                    if browser is not None:
                        browser.observe(item.outputs, frame.timestamp)
                        if draw:
                            browser.show(annotated)
                    latency_ms = (time.perf_counter() - frame.captured) * 1000  # capture -> rendered
                    stream.stats.latency(latency_ms)
                    for path_output in item.outputs:
                        if rows is not None:
                            rows.write(frame.index, frame.timestamp, path_output, analysed=item.analysed,
                                       latency_ms=latency_ms)
                        if mask_sink is not None and path_output.mode == "segment":
                            mask_sink.write(frame.index, path_output.result.class_map)
                    written += 1
                    last_rendered = time.perf_counter()
                    if views:
                        snapshot = stream.stats.snapshot()
                        for view in views:
                            view.update(snapshot)
                    if not keep_going:
                        ended = "quit from the window"
                        break
            except BaseException:
                if written == 0:  # nothing processed: leave what the user had
                    for sink in sinks:
                        if sink is not None:
                            sink.discard()
                raise
    except BaseException as error:
        if stream is not None and written:
            _finish(source, stream, ended_by(error), last_rendered - started, [terminal, browser], finished, news)
        raise
    if source.error and ended == "end of input":
        report = _finish(source, stream, source.error, last_rendered - started, [terminal, browser], finished, news)
        raise ValueError(f"{source.error} ({report.snapshot.frames} frames before it were processed and written)")
    return _finish(source, stream, ended, last_rendered - started, [terminal, browser], finished, news)


def _finish(source, stream: Stream, ended: str, seconds: float, views: list,
            finished: Callable[[RunReport], None] | None, news: SourceNews) -> RunReport:
    """The run's report, shown in the views (terminal, browser; None: not there) and handed to `finished`."""
    snapshot = stream.stats.snapshot(whole_run=True)
    damaged = getattr(source, "damage", None) if isinstance(getattr(source, "damage", None), dict) else None
    if damaged and any(damaged.values()) and ended == "end of input":  # said once, on the main thread (see run)
        packets, lost = damaged["packets"], damaged["frames_lost"]
        news.notify(f"warning: {source.name!r} is damaged: {packets} packet{'s' * (packets != 1)} skipped, "
                    f"{lost} frame{'s' * (lost != 1)} lost")
    report = RunReport(snapshot, ended, seconds, tuple(getattr(source, "unreadable", ())), tuple(news.gaps),
                       damaged, None if stream.governor is None else stream.governor.report())
    for view in views:
        if view is not None:
            view.update(snapshot, force=True)
    if finished is not None:
        finished(report)
    return report


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
