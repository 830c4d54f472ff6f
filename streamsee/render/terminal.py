"""The run in the terminal (stderr, with rich): a progress bar for files (frames, fps, ETA), a
live table of the HUD's figures for live sources. It only reads statistics snapshots."""

from __future__ import annotations

import time

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from streamsee.core.resource import Resource
from streamsee.core.snapshot import Snapshot

REFRESH_SECONDS = 0.25  # at most four redraws a second: the terminal must not slow the video down


def stats_table(snapshot: Snapshot, title: str = "") -> Table:
    """The run's figures and, beside them, each path's: rates, latency, stage times, counts."""
    table = Table(title=title or None, title_justify="left")
    table.add_column("")
    table.add_column("run", justify="right")
    for name in snapshot.paths:
        table.add_column(name, justify="right")
    paths = list(snapshot.paths.values())

    def row(label: str, run: str, per_path) -> None:
        table.add_row(label, run, *(per_path(path) for path in paths))

    row("source fps", f"{snapshot.source_fps:.1f}", lambda path: "")
    row("analysed fps", f"{snapshot.analysed_fps:.1f}", lambda path: f"{path.analysed_fps:.1f}")
    row("latency p50 ms", f"{snapshot.latency_p50_ms:.0f}", lambda path: f"{path.latency_p50_ms:.0f}")
    row("latency p95 ms", f"{snapshot.latency_p95_ms:.0f}", lambda path: f"{path.latency_p95_ms:.0f}")
    for stage, ms in snapshot.stage_ms.items():
        if not stage.startswith("analyse "):
            row(f"{stage} ms", f"{ms:.1f}", lambda path, stage=stage: f"{path.stage_ms.get(stage, 0.0):.1f}"
                if stage == "analyse" else "")
    row("frames", str(snapshot.frames), lambda path: str(path.frames))
    row("analysed / skipped", f"{snapshot.analysed} / {snapshot.skipped}",
        lambda path: f"{path.analysed} / {path.skipped}")
    row("dropped", str(snapshot.dropped), lambda path: "")
    return table


class TerminalView(Resource):
    """`update(snapshot)` after each rendered frame; redraws at most every REFRESH_SECONDS.

    live=False (files): a progress bar over `total` frames (None: unknown length).
    live=True (camera, stream, --realtime): a table that updates in place.
    """

    def __init__(self, description: str, live: bool, total: int | None = None, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.description = description
        self.live = live
        self._last = 0.0
        if live:
            self._display = Live(Table(title=description), console=self.console, auto_refresh=False)
        else:
            self._display = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[fps]:.1f} fps"), TimeRemainingColumn(),
                                     console=self.console, auto_refresh=False)
            self._task = self._display.add_task(description, total=total, fps=0.0)
        self._display.start()
        self.closed = False

    def update(self, snapshot: Snapshot, force: bool = False) -> None:
        now = time.perf_counter()
        if self.closed or (not force and now - self._last < REFRESH_SECONDS):
            return
        self._last = now
        if self.live:
            self._display.update(stats_table(snapshot, self.description), refresh=True)
        else:
            self._display.update(self._task, completed=snapshot.frames, fps=snapshot.analysed_fps, refresh=True)

    def close(self) -> None:
        if not self.closed:
            self._display.stop()
            self.closed = True


def sources_table(rows: list[tuple[str, Snapshot | None, int | None]]) -> Table:
    """Several sources, one row each: (name, newest snapshot or None, total frames if known)."""
    table = Table(title="streamsee: every source", title_justify="left")
    for column in ("source", "frames", "source fps", "analysed fps", "latency p50 ms", "p95 ms", "skipped", "dropped"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for name, snapshot, total in rows:
        if snapshot is None:
            table.add_row(name, "starting", *[""] * 6)
            continue
        frames = f"{snapshot.frames}/{total}" if total else str(snapshot.frames)
        table.add_row(name, frames, f"{snapshot.source_fps:.1f}", f"{snapshot.analysed_fps:.1f}",
                      f"{snapshot.latency_p50_ms:.0f}", f"{snapshot.latency_p95_ms:.0f}", str(snapshot.skipped),
                      str(snapshot.dropped))
    return table


class SourcesBoard(Resource):
    """Several sources in one terminal view: a table with a row per source, redrawn in place at most every
    REFRESH_SECONDS. `views[i]` is source i's, used like a TerminalView (update(snapshot, force=False))."""

    def __init__(self, sources: list[tuple[str, int | None]], console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.names = [name for name, _ in sources]
        self.totals = [total for _, total in sources]
        self.snapshots: list[Snapshot | None] = [None] * len(sources)
        self.views = [_BoardRow(self, index) for index in range(len(sources))]
        self._last = 0.0
        self._display = Live(self._table(), console=self.console, auto_refresh=False)
        self._display.start()
        self.closed = False

    def _table(self) -> Table:
        return sources_table(list(zip(self.names, self.snapshots, self.totals)))

    def update(self, index: int, snapshot: Snapshot, force: bool = False) -> None:
        self.snapshots[index] = snapshot
        now = time.perf_counter()
        if self.closed or (not force and now - self._last < REFRESH_SECONDS):
            return
        self._last = now
        self._display.update(self._table(), refresh=True)

    def close(self) -> None:
        if not self.closed:
            self._display.update(self._table(), refresh=True)
            self._display.stop()
            self.closed = True


class _BoardRow:
    """Source `index`'s row of a SourcesBoard."""

    def __init__(self, board: SourcesBoard, index: int):
        self.board, self.index = board, index

    def update(self, snapshot: Snapshot, force: bool = False) -> None:
        self.board.update(self.index, snapshot, force)
