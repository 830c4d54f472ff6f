"""One source's run, the part of the main job that is the same for one source (live.pipeline.process) and for
several at once (live.several): its outputs and Stream, each item the Stream yields drawn and written
(`take`), and its end (`end`): outputs finalised, the report made, shown and handed to `finished`."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np

from streamsee.core.snapshot import Snapshot
from streamsee.live.analyser import Analyser
from streamsee.live.outputs import open_outputs
from streamsee.live.stream import Analysed, Stream
from streamsee.live.turns import Turns
from streamsee.render.drawing import HudAnnotator
from streamsee.video.sources import Notice


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


class SourceRun:
    """One source through `analyser` into its outputs (annotated video or images, JSON lines, masks: opened,
    and so checked, here, before any frame is read) and its views: `views` hear update(snapshot) after each
    frame, `browser` (a live.web view of this source) the frames and results too. `shown`: the caller shows
    the frames (a window), so every frame is drawn. `notify` hears the source's own lines (default: stderr).

    Iterate `stream` and hand each item to `take`; then call `end` once, with the exception that stopped the
    run if one did. Opening fails as a whole: an output that cannot be opened discards those already opened."""

    def __init__(self, source, analyser: Analyser, *, output: os.PathLike | str | None = None,
                 jsonl: os.PathLike | str | None = None, masks: os.PathLike | str | None = None,
                 budget_ms: float = 250.0, hud: bool = True, queue_size: int = 4, live: bool | None = None,
                 notify: Callable[[str], None] | None = None, shown: bool = False, views: Iterable = (),
                 browser=None, finished: Callable[[RunReport], None] | None = None, turns: Turns | None = None):
        if masks is not None and "segment" not in analyser.paths:
            raise ValueError("--save-masks needs --mode segment or compare")
        self.source, self.analyser, self.hud, self.browser, self.finished = source, analyser, hud, browser, finished
        self.views = [view for view in views if view is not None]
        self.news = SourceNews(notify or print_on_stderr, time.perf_counter())
        self.hud_annotator = HudAnnotator()
        self.ended = "end of input"  # the caller sets "quit from the window"
        self.written = 0
        self.annotated: np.ndarray | None = None  # the newest frame drawn
        self.started = self.last_rendered = time.perf_counter()
        self._outputs = ExitStack()
        self.sinks = open_outputs(self._outputs, source, analyser, output, jsonl, masks)
        self.rows, self.mask_sink, self.video, self.images = self.sinks
        self.drawing = shown or self.video is not None or self.images is not None
        try:
            self.stream = self._outputs.enter_context(Stream(source, analyser, queue_size=queue_size,
                                                             budget_ms=budget_ms, live=live, notify=self.news.notify,
                                                             turns=turns))
        except BaseException:
            self._discard()
            raise

    def begin(self) -> None:
        """The clock starts: call it just before the first item is taken."""
        self.started = self.last_rendered = self.news.started = time.perf_counter()

    def take(self, item) -> np.ndarray | None:
        """Handle one item of the stream: a frame drawn, written and shown in the views; an audio packet
        copied; a reconnecting source's Notice heard. The image to show now, or None."""
        if isinstance(item, Notice):  # a live source lost and reconnecting: no frame meanwhile
            self.news.hear(item)
            if self.annotated is None:
                return None
            status = self.news.line() if self.hud else None
            shown = self.hud_annotator.status_only(self.annotated, status) if status else self.annotated
            if self.browser is not None:
                self.browser.show(shown)
            return shown
        if not isinstance(item, Analysed):  # an audio packet, copied through
            if self.video is not None:
                self.video.write_audio(item)
            return None
        frame, stats = item.frame, self.stream.stats
        draw = self.drawing or (self.browser is not None and self.browser.watched)  # for the browser only if watched
        if draw:
            with stats.stage("draw"):
                self.annotated = self.analyser.annotate(frame.image, item.outputs)
                if self.hud:
                    self.annotated = self.hud_annotator.annotate(self.annotated, stats.snapshot(), self.news.line())
            with stats.stage("write"):
                if self.video is not None:
                    self.video.write(self.annotated, frame.timestamp)
                elif self.images is not None:
                    self.images.write(self.annotated, frame.index)
        if self.browser is not None:
            self.browser.observe(item.outputs, frame.timestamp)
            if draw:
                self.browser.show(self.annotated)
        latency_ms = (time.perf_counter() - frame.captured) * 1000  # capture -> rendered
        stats.latency(latency_ms)
        for path_output in item.outputs:
            if self.rows is not None:
                self.rows.write(frame.index, frame.timestamp, path_output, analysed=item.analysed,
                                latency_ms=latency_ms)
            if self.mask_sink is not None and path_output.mode == "segment":
                self.mask_sink.write(frame.index, path_output.result.class_map)
        self.written += 1
        self.last_rendered = time.perf_counter()
        if self.views:
            snapshot = stats.snapshot()
            for view in self.views:
                view.update(snapshot)
        return self.annotated if draw else None

    def _discard(self) -> None:
        for sink in self.sinks:
            if sink is not None:
                sink.discard()
        self._outputs.close()

    def end(self, error: BaseException | None = None) -> RunReport | None:
        """Stop the stream and finalise the outputs (or, when `error` came before any frame was processed,
        discard them: whatever the paths held stays); then the report, shown in the views and handed to
        `finished` (None, and nothing called, when nothing was processed before `error`)."""
        if error is not None and self.written == 0:
            self._discard()
            return None
        self._outputs.close()
        ended = (ended_by(error) if error is not None
                 else self.source.error if self.source.error and self.ended == "end of input" else self.ended)
        source, snapshot = self.source, self.stream.stats.snapshot(whole_run=True)
        damaged = getattr(source, "damage", None) if isinstance(getattr(source, "damage", None), dict) else None
        if damaged and any(damaged.values()) and ended == "end of input":  # said once, on the caller's thread
            packets, lost = damaged["packets"], damaged["frames_lost"]
            self.news.notify(f"warning: {source.name!r} is damaged: {packets} packet{'s' * (packets != 1)} skipped, "
                             f"{lost} frame{'s' * (lost != 1)} lost")
        governor = self.stream.governor
        report = RunReport(snapshot, ended, self.last_rendered - self.started, tuple(getattr(source, "unreadable", ())),
                           tuple(self.news.gaps), damaged, None if governor is None else governor.report())
        for view in self.views:
            view.update(snapshot, force=True)
        if self.finished is not None:
            self.finished(report)
        return report

    @property
    def failed(self) -> str | None:
        """The source's own error when it ended abnormally after frames (source.error), else None."""
        return self.source.error if self.source.error and self.ended == "end of input" else None


__all__ = ["RunReport", "SourceNews", "SourceRun", "ended_by", "print_on_stderr"]
