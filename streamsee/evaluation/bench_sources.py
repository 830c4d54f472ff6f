"""How far one machine goes with several sources at once (`streamsee bench`, part 7, or alone with
`--only sources`): N copies of the bench video (its first frames), each its own source with its own analyser,
run together through live.several as the main job runs them (files: every frame analysed, drawn with the HUD
and encoded to a temporary .mp4), sharing the analysis (live.turns), with and without a browser client
watching every source's video (a thread reading /stream.mjpg of each at 10 fps). Frames per second per source
and in total; the total against one source's shows what sharing costs or gains."""

from __future__ import annotations

import tempfile
import threading
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from streamsee.core.config import RunConfig
from streamsee.evaluation.bench_parts import FirstFrames, open_video
from streamsee.live.analyser import Analyser
from streamsee.live.several import process_several
from streamsee.live.source_run import SourceRun
from streamsee.live.turns import Turns

CLIENT_FPS = 10


def watch(url: str, stop: threading.Event, received: list[int]) -> None:
    """A browser-like client: read the MJPEG stream at `url` until `stop`, counting the bytes received."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            while not stop.is_set():
                chunk = response.read(65536)
                if not chunk:
                    return
                received[0] += len(chunk)
    except OSError:
        return


def run_sources(path: str | None, count: int, frames: int, mode: str = "segment", client: bool = False,
                workers: int | None = None) -> dict:
    """`count` sources of the first `frames` frames of the video, run together; with `client`, watched."""
    config = RunConfig(mode=mode)
    names = [f"source{index}" for index in range(count)]
    turns = Turns(workers)
    stop, received, watchers = threading.Event(), [0], []
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="streamsee-bench-sources-") as folder:
        browser = None
        if client:
            from streamsee.live.web import BrowserView

            browser = stack.enter_context(BrowserView("127.0.0.1:0", None, names, notify=lambda line: None))
        runs = []
        for index, name in enumerate(names):
            source = FirstFrames(stack.enter_context(open_video(path)), frames)
            analyser = stack.enter_context(Analyser.from_config(config))
            view = None if browser is None else browser.views[index]
            runs.append(SourceRun(source, analyser, output=Path(folder) / f"{name}.mp4", budget_ms=config.budget_ms,
                                  notify=lambda line: None, views=[view], browser=view, turns=turns))
        if browser is not None:
            for index in range(count):
                url = f"{browser.server.url(with_token=False)}stream.mjpg?source={index}&fps={CLIENT_FPS}"
                watchers.append(threading.Thread(target=watch, args=(url, stop, received), daemon=True))
                watchers[-1].start()
            deadline = time.monotonic() + 10
            while not all(view.watched for view in browser.views) and time.monotonic() < deadline:
                time.sleep(0.01)
        started = time.perf_counter()
        reports = process_several(runs, names, notify=lambda line: None)
        seconds = time.perf_counter() - started
        stop.set()
    for thread in watchers:
        thread.join(timeout=5)
    per_source = [round(report.frames_per_second, 2) for report in reports]
    total = sum(report.snapshot.frames for report in reports)
    return {"sources": count, "client": client, "workers": turns.workers, "frames_each": frames,
            "fps_per_source": per_source, "fps_total": round(total / seconds, 2), "seconds": round(seconds, 2),
            "client_kib": received[0] // 1024}


def bench_sources(path: str | None, counts: tuple[int, ...] = (1, 2, 4), frames: int = 40,
                  mode: str = "segment", progress=None) -> dict:
    """Every count, without and then with a browser client; `progress(line)` hears each."""
    rows = []
    for count in counts:
        for client in (False, True):
            if progress is not None:
                progress(f"{count} source{'s' * (count > 1)}, {'a browser client watching' if client else 'no client'}")
            rows.append(run_sources(path, count, frames, mode, client))
    one = {row["client"]: row["fps_total"] for row in rows if row["sources"] == 1}
    for row in rows:
        row["total_over_one_source"] = round(row["fps_total"] / one[row["client"]], 3) if one.get(row["client"]) else None
    return {"mode": mode, "frames_each": frames, "rows": rows}


def render_sources(report: dict, console) -> None:
    from rich.table import Table

    table = Table(title=f"several sources at once ({report['mode']}, {report['frames_each']} frames each, files: "
                  "every frame analysed, drawn, encoded)")
    for column in ("sources", "browser client", "fps per source", "fps in total", "total / one source"):
        table.add_column(column, justify="right")
    for row in report["rows"]:
        table.add_row(str(row["sources"]), "yes" if row["client"] else "no",
                      ", ".join(f"{fps:.1f}" for fps in row["fps_per_source"]), f"{row['fps_total']:.1f}",
                      "" if row["total_over_one_source"] is None else f"{row['total_over_one_source']:.2f}")
    console.print(table)
