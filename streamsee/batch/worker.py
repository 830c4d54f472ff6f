"""One input at a time through the single-machine tool's own code (`live.pipeline.process`), with the
models loaded once. In a cluster each `BatchWorker` is a Ray actor (the driver wraps it; this module
does not import Ray), and works as well on its own:

    with BatchWorker(RunConfig(mode="boxes")) as worker:
        outcome = worker.process(job)          # an Outcome: "done" or "failed" with its one-line reason

A job may be a chunk of a long video (a time range, batch/chunks.py): it is read as
`VideoFile(input, start, end)` and gets no done-marker; the rest is the same.

`process` never raises for a bad input: the error's message becomes the outcome's reason, and what
was processed before it stays written (process() finalises every output on every way out). The masks
are written into a temporary folder renamed into place at the end, like the files; the done-marker
is written last, only when everything else is in place. `stop()` (from another thread: Ray runs it
beside `process`) ends the current input after its frame, outputs finalised, as "interrupted".
"""

from __future__ import annotations

import glob
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from streamsee.batch.inputs import Job, fingerprint, mark_done
from streamsee.core.config import RunConfig
from streamsee.core.resource import Resource
from streamsee.live.analyser import Analyser
from streamsee.live.pipeline import process
from streamsee.video.sinks import partial_path
from streamsee.video.sources import VideoFile, open_source


@dataclass(frozen=True)
class Outcome:
    """How one input went: status "done", "skipped" (complete from an earlier run), "failed" or "interrupted"."""

    name: str
    input: str
    status: str
    frames: int = 0
    seconds: float = 0.0
    reason: str | None = None
    outputs: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    worker: str = ""
    chunks: int = 0  # how many chunks a long video was processed in (0: whole)

    def to_json(self) -> dict:
        return {"name": self.name, "input": self.input, "status": self.status, "frames": self.frames,
                "seconds": round(self.seconds, 3),
                "frames_per_second": round(self.frames / self.seconds, 2) if self.seconds > 0 else 0.0,
                "reason": self.reason, "outputs": list(self.outputs), "warnings": list(self.warnings),
                "worker": self.worker, "chunks": self.chunks}


class Cancelled(KeyboardInterrupt):
    """The driver asked the worker to stop (Ctrl-C or SIGTERM on the driver)."""


class Progress:
    """Stands in for the terminal view process() updates after every frame: counts the frames, and
    raises Cancelled at the next frame once the worker was told to stop."""

    def __init__(self):
        self.name: str | None = None
        self.frames = 0
        self.stopping = False

    def start(self, name: str) -> None:
        self.name, self.frames = name, 0

    def update(self, snapshot, force: bool = False) -> None:
        self.frames = snapshot.frames
        if self.stopping and not force:
            raise Cancelled(f"stopped during {self.name!r}")


def remove_stale(path: str) -> None:
    """Temporary files a killed earlier run left for `path` (name.partial-PID.ext): they are never renamed."""
    target = Path(path)
    for stale in glob.glob(os.path.join(glob.escape(str(target.parent)),
                                        f"{glob.escape(target.stem)}.partial-*{glob.escape(target.suffix)}")):
        if os.path.isdir(stale):
            shutil.rmtree(stale, ignore_errors=True)
        else:
            Path(stale).unlink(missing_ok=True)


def put_masks_in_place(partial: Path, masks: Path) -> None:
    """The finished masks folder replaces the old one; an empty one (nothing processed) is dropped."""
    if not partial.is_dir():
        return
    if not any(partial.iterdir()):
        partial.rmdir()
        return
    if masks.is_dir():
        shutil.rmtree(masks)
    os.replace(partial, masks)


class BatchWorker(Resource):
    """Loads the mode's models once (`Analyser`) and runs whole inputs through `process()`."""

    def __init__(self, config: RunConfig):
        self.config = config.replace(display=False)
        self.analyser = Analyser.from_config(self.config)
        self.progress = Progress()
        self.label = f"{os.uname().nodename}:{os.getpid()}"
        self.closed = False

    def ready(self) -> str:
        """Where this worker runs (host:pid); the driver waits for it before handing out inputs."""
        return self.label

    def stop(self) -> None:
        self.progress.stopping = True

    def status(self) -> tuple[str | None, int]:
        """The input being processed (None between inputs) and its frames so far."""
        return self.progress.name, self.progress.frames

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.analyser.close()

    def process(self, job: Job, settings: dict) -> Outcome:
        """Run one input; every error an input can cause becomes a failed Outcome with its one line."""
        warnings: list[str] = []
        reports = []
        self.progress.start(job.name)
        self.analyser.smoother.reset()  # nothing carries over from the previous input
        started = time.perf_counter()
        status, reason = "done", None
        masks = job.masks if job.masks and "segment" in self.analyser.paths else None
        partial_masks = partial_path(Path(masks)) if masks else None  # clip.mp4.partial-PID.masks
        try:
            if self.progress.stopping:
                raise Cancelled(f"stopped before {job.name!r}")
            before = fingerprint(job.input)
            for path in (job.output, job.jsonl, masks):
                if path:
                    remove_stale(path)
            opened = VideoFile(job.input, job.start, job.end) if job.chunk else open_source(job.input, warn=warnings.append)
            with opened as source:
                process(source, self.analyser, output=job.output, jsonl=job.jsonl, masks=partial_masks,
                        budget_ms=self.config.budget_ms, hud=self.config.hud, terminal=self.progress,
                        queue_size=self.config.queue_size, finished=reports.append, notify=warnings.append)
            if partial_masks is not None:
                put_masks_in_place(partial_masks, Path(masks))
            frames = reports[-1].snapshot.frames if reports else self.progress.frames
            if job.done is not None:  # a chunk has none: the driver marks its input once the chunks are joined
                mark_done(job, settings, frames, time.perf_counter() - started, before)
        except Cancelled:
            status, reason = "interrupted", "interrupted before it was finished"
        except (OSError, ValueError, RuntimeError, MemoryError) as error:  # one input's problem: the rest go on
            status, reason = "failed", str(error) or type(error).__name__
        finally:
            if partial_masks is not None and partial_masks.exists():
                try:  # what was processed before a failure is kept, like the other outputs
                    put_masks_in_place(partial_masks, Path(masks))
                except OSError:
                    pass
            self.progress.name = None
        frames = reports[-1].snapshot.frames if reports else self.progress.frames
        outputs = tuple(path for path in (job.output, job.jsonl, masks) if path and os.path.exists(path))
        return Outcome(job.name, job.input, status, frames, time.perf_counter() - started, reason, outputs,
                       tuple(warnings), self.label)
