"""The terminal view: a progress bar for files, a live table for live sources (rich)."""

import io

from rich.console import Console

from streamsee.live.stats import Stats
from streamsee.render.terminal import TerminalView, stats_table


def run_stats():
    stats = Stats()
    for index in range(10):
        stats.captured(index * 0.04)
        with stats.stage("draw"):
            pass
        stats.latency(20.0 + index)
        stats.count(analysed=index % 2 == 0)
        path = stats.path("segment")
        path.add_stage("analyse", 8.0)
        path.latency(12.0)
        path.count(analysed=index % 2 == 0)
    return stats.snapshot()


def test_progress_bar_for_files():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    with TerminalView("video 'dog.mp4'", live=False, total=32, console=console) as view:
        view.update(run_stats(), force=True)
    text = buffer.getvalue()
    assert "dog.mp4" in text and "10/32" in text and "fps" in text


def test_live_table_shows_each_path():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    with TerminalView("camera 0", live=True, console=console) as view:
        view.update(run_stats(), force=True)
    text = buffer.getvalue()
    assert "camera 0" in text and "segment" in text and "latency p95 ms" in text and "5 / 5" in text


def test_table_reads_only_the_snapshot():
    snapshot = run_stats()
    table = stats_table(snapshot)
    assert [column.header for column in table.columns] == ["", "run", "segment"]
