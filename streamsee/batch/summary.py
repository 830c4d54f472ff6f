"""What a batch shows: the live progress across the cluster (files, frames, frames per second, what each
worker is on) and, at the end, the summary: a row per input and the totals, as a table or as JSON."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from streamsee.batch.worker import Outcome
from streamsee.core.resource import Resource

STATUSES = ("done", "skipped", "failed", "interrupted", "not started")
RATE_WINDOW = 10.0  # seconds the live frames-per-second figure is measured over
REFRESH = 0.5


class BatchView(Resource):
    """The progress of a batch. In a terminal: a bar over the files with the frames and the cluster's
    frames per second, and a line per busy worker; elsewhere (a log, CI): one line per finished input."""

    def __init__(self, total: int, console: Console):
        self.console = console
        self.total = total
        self.done_frames = 0
        self.finished = 0
        self.started = time.perf_counter()
        self.samples: deque[tuple[float, int]] = deque([(self.started, 0)])
        self.closed = False
        self.progress = None
        if console.is_terminal:
            self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[frames]} frames, {task.fields[fps]:.1f} fps"),
                                     TimeElapsedColumn(), console=console, auto_refresh=False)
            self.overall = self.progress.add_task("files", total=total, frames=0, fps=0.0)
            self.lines: dict[str, int] = {}
            self.progress.start()

    def rate(self, frames: int) -> float:
        """Frames per second across the cluster over the last RATE_WINDOW seconds."""
        now = time.perf_counter()
        self.samples.append((now, frames))
        while len(self.samples) > 2 and now - self.samples[1][0] > RATE_WINDOW:
            self.samples.popleft()
        then, before = self.samples[0]
        return (frames - before) / (now - then) if now > then else 0.0

    def update(self, busy: dict[str, tuple[str | None, int]]) -> None:
        """`busy`: per worker, the input it is on (None: none) and that input's frames so far."""
        frames = self.done_frames + sum(count for _, count in busy.values())
        fps = self.rate(frames)
        if self.progress is None:
            return
        self.progress.update(self.overall, completed=self.finished, frames=frames, fps=fps)
        for worker, (name, count) in busy.items():
            if worker not in self.lines:
                self.lines[worker] = self.progress.add_task("", total=None, frames=0, fps=0.0)
            text = f"  {worker}: {name}" if name else f"  {worker}: waiting"
            self.progress.update(self.lines[worker], description=escape(text), frames=count)
        self.progress.refresh()

    def add_chunk(self, outcome: Outcome) -> None:
        """A finished chunk of a long video: its frames counted, and said in one line where there is no
        live display (the input is counted when its chunks are joined: `add`)."""
        self.done_frames += outcome.frames
        if self.progress is None:
            detail = f": {outcome.reason}" if outcome.reason else f", {outcome.frames} frames in {outcome.seconds:.1f} s"
            self.console.print(f"streamsee batch: {outcome.status} {outcome.name!r}{detail}", markup=False,
                               highlight=False, soft_wrap=True)

    def add(self, outcome: Outcome) -> None:
        """A finished input: counted, and said in one line where there is no live display. The frames of
        one processed in chunks were counted with its chunks."""
        self.finished += 1
        counted = outcome.status in ("done", "failed", "interrupted") and not outcome.chunks
        self.done_frames += outcome.frames if counted else 0
        if self.progress is None:
            detail = f": {outcome.reason}" if outcome.reason else f", {outcome.frames} frames in {outcome.seconds:.1f} s"
            self.console.print(f"streamsee batch: [{self.finished}/{self.total}] {outcome.status} {outcome.name!r}{detail}",
                               markup=False, highlight=False, soft_wrap=True)
        for warning in outcome.warnings:
            self.console.print(f"streamsee: warning: {outcome.name!r}: {warning}", markup=False, highlight=False,
                               soft_wrap=True)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.progress is not None:
                self.progress.stop()


@dataclass(frozen=True)
class BatchReport:
    """Everything a batch did: one Outcome per input (inputs never started are "not started")."""

    outcomes: tuple[Outcome, ...]
    seconds: float
    workers: int
    mode: str
    cluster: str
    interrupted: bool = False
    startup: float = 0.0  # seconds spent starting or joining Ray and loading the workers' models

    def count(self, status: str) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    @property
    def frames(self) -> int:
        """Frames processed by this run (inputs skipped as complete count none)."""
        return sum(outcome.frames for outcome in self.outcomes if outcome.status != "skipped")

    @property
    def frames_per_second(self) -> float:
        """Across the cluster, once the workers were ready (the startup is paid once per run, not per frame)."""
        working = self.seconds - self.startup
        return self.frames / working if working > 0 else 0.0

    @property
    def failed(self) -> bool:
        return self.count("failed") > 0

    def to_json(self) -> dict:
        return {"mode": self.mode, "cluster": self.cluster, "workers": self.workers, "interrupted": self.interrupted,
                "seconds": round(self.seconds, 3), "startup_seconds": round(self.startup, 3), "frames": self.frames,
                "frames_per_second": round(self.frames_per_second, 2),
                "counts": {status: self.count(status) for status in STATUSES},
                "files": [outcome.to_json() for outcome in self.outcomes]}

    def render(self, console: Console) -> None:
        table = Table(title=Text(f"streamsee batch {self.mode}: {len(self.outcomes)} inputs on {self.workers} "
                      f"worker{'s' * (self.workers != 1)} ({self.cluster})"))
        for column, justify in (("input", "left"), ("status", "left"), ("frames", "right"), ("seconds", "right"),
                                ("fps", "right"), ("reason", "left")):
            table.add_column(column, justify=justify, overflow="fold")
        style = {"done": "green", "skipped": "dim", "failed": "red", "interrupted": "yellow", "not started": "dim"}
        for outcome in self.outcomes:
            fps = f"{outcome.frames / outcome.seconds:.1f}" if outcome.seconds > 0 and outcome.frames else ""
            name = f"{outcome.name} ({outcome.chunks} chunks)" if outcome.chunks else outcome.name
            table.add_row(Text(name), Text(outcome.status, style=style[outcome.status]), str(outcome.frames),
                          f"{outcome.seconds:.1f}", fps, Text(outcome.reason or ""))
        console.print(table)
        counts = ", ".join(f"{self.count(status)} {status}" for status in STATUSES if self.count(status))
        console.print(f"{counts}; {self.frames} frames in {self.seconds:.1f} s ({self.startup:.1f} s of it starting the "
                      f"workers), {self.frames_per_second:.1f} frames per second across the cluster", markup=False,
                      highlight=False)
