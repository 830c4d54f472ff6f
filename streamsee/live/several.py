"""Several sources in one run (`streamsee A.mp4 B.mp4 udp://... --camera 0`): each source has its own producer
and worker threads, budget, smoothing, statistics and outputs (a live.source_run.SourceRun each); they share
the analysis (live.turns: at most `workers` frames analysed at once, the sources taking turns); the caller's
thread takes the items of every source as they come (Merge), draws and writes them, and shows a grid.

One source failing ends that source only: its outputs are finalised (or discarded if it had processed
nothing), its line is said, and the others go on; a live source reconnects on its own as in a single run.
Ctrl-C, SIGTERM and q in the window end every source, each finalised.
"""

from __future__ import annotations

import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from streamsee.core.config import RunConfig
from streamsee.core.resource import Resource
from streamsee.live.analyser import Analyser
from streamsee.live.source_run import RunReport, SourceRun, ended_by, print_on_stderr
from streamsee.live.stream import END, POLL, Analysed, Failed, Stream
from streamsee.live.turns import Turns
from streamsee.render.display import Window, display_available
from streamsee.render.grid import GridAnnotator
from streamsee.render.terminal import SourcesBoard
from streamsee.video.sources import ImageFiles, Paced, VideoFile, is_url, open_source

WINDOW_FPS = 30.0  # the grid is shown at most this often


def source_names(specs: list[str | int]) -> list[str]:
    """A short name per source, safe as a file name and unique in the run: a file's or folder's stem,
    a URL's scheme, host and port ("udp-127.0.0.1-5000"), "camera0" for camera 0; repeats get -2, -3..."""
    names, seen = [], {}
    for spec in specs:
        text = os.fspath(spec) if not isinstance(spec, int) else str(spec)
        if isinstance(spec, int) or text.isdigit():
            name = f"camera{text}"
        elif is_url(text):
            parts = urlsplit(text)
            name = "-".join(str(part) for part in (parts.scheme, parts.hostname, parts.port) if part)
        else:
            name = Path(text.rstrip("/\\")).stem or "input"
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "input"
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return names


@dataclass(frozen=True)
class Outputs:
    """One source's output paths in a run with several (None: not asked for)."""

    output: Path | None = None
    jsonl: Path | None = None
    masks: Path | None = None


def outputs_for(name: str, source, output: os.PathLike | str | None, jsonl: os.PathLike | str | None,
                masks: os.PathLike | str | None) -> Outputs:
    """Where a source's outputs go when --output, --jsonl and --save-masks name folders: OUTPUT/NAME.mp4 (for a
    folder of images OUTPUT/NAME/, for one image OUTPUT/NAME.SUFFIX), JSONL/NAME.jsonl, MASKS/NAME/."""
    video = None
    if output is not None:
        stills = source if isinstance(source, ImageFiles) else getattr(source, "source", None)
        if isinstance(stills, ImageFiles):
            video = Path(output) / (name if stills.from_folder else name + stills.paths[0].suffix.lower())
        else:
            video = Path(output) / f"{name}.mp4"
    return Outputs(video, None if jsonl is None else Path(jsonl) / f"{name}.jsonl",
                   None if masks is None else Path(masks) / name)


def check_folders(**folders: os.PathLike | str | None) -> None:
    """With several sources each output option names a folder: one that is an existing file, or that ends in a
    video or JSON lines suffix, is a ValueError saying so."""
    for option, folder in folders.items():
        if folder is None:
            continue
        path = Path(folder)
        if path.is_file() or path.suffix.lower() in (".mp4", ".mkv", ".mov", ".webm", ".jsonl", ".json"):
            raise ValueError(f"--{option.replace('_', '-')} {str(folder)!r}: with several inputs it names a folder, "
                             "where each input's file is written under the input's name")


class Merge(Resource):
    """The items of several Streams, as (source index, item) in the order they come: a thread per Stream
    hands them over through one bounded queue; a Stream's failure comes as (index, Failed), its end as
    (index, END). Iteration ends when every Stream has ended; close() stops the threads (safe twice)."""

    def __init__(self, streams: list[Stream]):
        self.queue: queue.Queue = queue.Queue(maxsize=2 * len(streams))
        self.stop = threading.Event()
        self.left = len(streams)
        self._threads = [threading.Thread(target=self._forward, args=(index, stream), daemon=True,
                                          name=f"streamsee-merge-{index}") for index, stream in enumerate(streams)]
        for thread in self._threads:
            thread.start()

    def _put(self, item) -> None:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=POLL)
                return
            except queue.Full:
                continue

    def _forward(self, index: int, stream: Stream) -> None:
        try:
            for item in stream:
                if self.stop.is_set():
                    return
                self._put((index, item))
        except BaseException as error:  # the Stream's own failure, carried to the caller
            self._put((index, Failed(error)))
            return
        self._put((index, END))

    def __iter__(self) -> Iterator[tuple[int, object]]:
        while self.left and not self.stop.is_set():
            try:
                index, item = self.queue.get(timeout=POLL)
            except queue.Empty:
                continue
            if item is END or isinstance(item, Failed):
                self.left -= 1
            yield index, item

    def close(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


def process_several(runs: list[SourceRun], names: list[str], window: Window | None = None,
                    notify: Callable[[str], None] = print_on_stderr) -> list[RunReport | None]:
    """Drive every SourceRun to its end; the window shows the grid of their newest frames. Each source's report
    in order (None: it failed before processing a frame); a source that failed is said in one line through
    `notify` ("NAME: what happened") and its report's `ended` says it too. Ctrl-C, SIGTERM, errors of the
    window: every source still running is ended with it, then it is raised."""
    reports: list[RunReport | None] = [None] * len(runs)
    done = [False] * len(runs)
    grid = GridAnnotator(names)
    tiles: list = [None] * len(runs)
    shown_at = 0.0

    def end(index: int, error: BaseException | None = None, said: bool = True) -> None:
        """End source `index` (with the error that ended it), saying what went wrong unless `said` is False."""
        done[index] = True
        try:
            reports[index] = runs[index].end(error)
        except Exception as failure:  # noqa: BLE001 - its outputs could not be finalised: said, the others go on
            error, said = failure, True
        problem = ended_by(error) if error is not None else runs[index].failed
        if problem and said:
            notify(f"{names[index]}: {problem}")

    try:
        with Merge([run.stream for run in runs]) as merge:
            for run in runs:
                run.begin()
            for index, item in merge:
                if done[index]:
                    continue
                if item is END:
                    end(index)
                    continue
                if isinstance(item, Failed):
                    end(index, item.error)
                    continue
                try:
                    shown = runs[index].take(item)
                except Exception as error:  # noqa: BLE001 - this source's output failed: it ends, the others go on
                    end(index, error)
                    continue
                if shown is None or window is None:
                    continue
                tiles[index] = shown
                now = time.perf_counter()
                if now - shown_at >= 1 / WINDOW_FPS or isinstance(item, Analysed) and item.analysed:
                    shown_at = now
                    if not window.show(grid.annotate(tiles)):
                        for run in runs:
                            run.ended = "quit from the window"
                        break
    except BaseException as error:  # the whole run's (Ctrl-C, SIGTERM, the window's): said once, by the caller
        for index in range(len(runs)):
            if not done[index]:
                end(index, error, said=False)
        raise
    for index in range(len(runs)):
        if not done[index]:
            end(index)
    return reports


def run_several(config: RunConfig, inputs: list[str], cameras: list[str], *,
                output: os.PathLike | str | None = None, jsonl: os.PathLike | str | None = None,
                masks: os.PathLike | str | None = None, console=None,
                finished: Callable[[str, RunReport], None] | None = None) -> list[RunReport | None]:
    """The main job with several sources (`inputs`, then `cameras`): each opened, with its own analyser and
    outputs named after it in the folders `output`, `jsonl` and `masks`; the browser view (config.serve) with
    a panel per source; a window with their grid when there is a display, a terminal table when `console` is
    a terminal. `finished(name, report)` for each source that processed frames. Opening fails as a whole,
    nothing written, when one source or output cannot be opened."""
    check_folders(output=output, jsonl=jsonl, save_masks=masks)
    specs: list[tuple[str | None, int | str | None]] = [(spec, None) for spec in inputs] + [
        (None, int(camera) if camera.isdigit() else camera) for camera in cameras]  # (input, camera)
    names = source_names([spec if camera is None else camera for spec, camera in specs])
    notify = print_on_stderr if console is None else (
        lambda line: console.print(f"streamsee: {line}", markup=False, highlight=False, soft_wrap=True))
    turns = Turns(config.workers)
    with ExitStack() as stack:
        sources = [stack.enter_context(open_source(spec, camera=camera, timeout=config.timeout_s,
                                                   warn=lambda message: None, live=config.live,
                                                   transport=config.rtsp_transport, reconnect=config.reconnect_s))
                   for spec, camera in specs]
        browser = None
        if config.serve is not None:
            from streamsee.live.web import BrowserView  # aiohttp, loaded only for it

            browser = stack.enter_context(BrowserView(config.serve, config.serve_token,
                                                      [f"{name}: {source.description}" for name, source in
                                                       zip(names, sources)], notify=notify))
        frames = []
        for source in sources:
            live = source.live if config.live is None else config.live
            paced = config.realtime or (live and isinstance(source, (VideoFile, ImageFiles)))
            frames.append(Paced(source) if paced and not source.live else source)
        window = (stack.enter_context(Window(f"streamsee {config.mode}: {len(sources)} sources"))
                  if config.display and display_available() else None)
        board = None
        if console is not None and console.is_terminal:
            totals = [len(source.paths) if isinstance(source, ImageFiles)
                      else source.video.frames or None if isinstance(source, VideoFile) else None for source in sources]
            board = stack.enter_context(SourcesBoard(list(zip(names, totals)), console=console))
        runs: list[SourceRun] = []
        try:
            for index, (name, source) in enumerate(zip(names, frames)):
                paths = outputs_for(name, source, output, jsonl, masks)
                analyser = stack.enter_context(Analyser.from_config(config))
                views = [view.views[index] for view in (board, browser) if view is not None]
                report_to = None if finished is None else (lambda report, name=name: finished(name, report))
                runs.append(SourceRun(source, analyser, output=paths.output, jsonl=paths.jsonl, masks=paths.masks,
                                      budget_ms=config.budget_ms, hud=config.hud, queue_size=config.queue_size,
                                      live=config.live, notify=lambda line, name=name: notify(f"{name}: {line}"),
                                      shown=window is not None, views=views,
                                      browser=None if browser is None else browser.views[index], finished=report_to,
                                      turns=turns))
        except BaseException as error:  # nothing processed yet: the outputs opened so far are discarded
            for run in runs:
                run.end(error)
            raise
        return process_several(runs, names, window, notify)
