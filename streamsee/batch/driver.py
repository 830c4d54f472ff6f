"""The batch driver: starts a local Ray instance or joins a cluster, makes the workers (Ray actors, each a
`BatchWorker` with the models loaded once), hands them one input at a time (a long video in chunks,
cut when its turn comes and joined when they are all back: batch/chunks.py), shows the progress, and
winds down cleanly on Ctrl-C or SIGTERM.

Inputs whose done-marker says they are complete are skipped before Ray is even started. An input
that fails (a corrupt file, an unwritable output, a worker that died on it) becomes one line in the
summary and the rest go on. On Ctrl-C (any exception in the driver, SIGTERM too) every worker is told
to stop after its current frame, so its outputs are finalised; those still busy after GRACE seconds,
or at a second Ctrl-C, are killed, their temporary files left for the next run to sweep away; queued
work is cancelled, the actors killed, and Ray shut down if this run started or joined it. The summary
is printed (and written as JSON), then the exception goes on to the command line (exit status 130 or 143).

The inputs and the output folder must be at the same paths on every machine of the cluster (one machine,
or a shared file system): a worker reads and writes them where it runs.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import warnings
from collections import deque

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError
from rich.console import Console

from streamsee.batch.chunks import DEFAULT_SECONDS, Assembly, chunk_count
from streamsee.batch.inputs import Job, is_done, plan
from streamsee.batch.summary import REFRESH, BatchReport, BatchView
from streamsee.batch.worker import BatchWorker, Outcome
from streamsee.core.config import RunConfig
from streamsee.core.signals import signals_held
from streamsee.video.sinks import check_writable, write_text

GRACE = 15.0  # seconds the workers get to finalise their current input after Ctrl-C


def one_line(error: BaseException) -> str:
    """An error from a worker as one line: the original exception's message where Ray kept it."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException) and not isinstance(cause, RayError):
        return str(cause) or type(cause).__name__
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def connect(address: str | None) -> tuple[bool, str]:
    """Start a local Ray instance (no address) or join the cluster at `address`. Returns whether this
    run must disconnect at the end, and what it runs on, in words."""
    if ray.is_initialized():
        return False, "the Ray instance this process runs"
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage-statistics notice or upload from a tool
    settings = {"log_to_driver": False, "logging_level": logging.ERROR}
    if address is None:
        ray.init(include_dashboard=False, **settings)
        return True, "a local Ray instance"
    try:
        with warnings.catch_warnings():  # the error below says it in one line
            warnings.simplefilter("ignore")
            ray.init(address=address, **settings)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as error:
        hint = (" (is the head's Ray Client port reachable, and RAY_AUTH_MODE=token set here with the cluster's token? "
                "docs/cluster.md)" if address.startswith("ray://") else "")
        raise ConnectionError(f"cannot join the Ray cluster at {address!r}: {one_line(error)}{hint}") from None
    return True, f"the Ray cluster at {address}"


class Pool:
    """`count` workers (Ray actors) with the models loaded; `run` keeps each busy with one input, or one
    chunk of a long video (cut when its turn comes: chunks.Assembly), at a time."""

    def __init__(self, config: RunConfig, count: int, settings: dict, chunk_seconds: float = 0.0):
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        # one CPU a worker; more workers than the cluster has CPUs share them rather than wait for ever
        self.actor = ray.remote(BatchWorker).options(num_cpus=min(1.0, cpus / count), max_concurrency=2)
        self.config, self.settings, self.chunk_seconds = config, settings, chunk_seconds
        self.actors = [self.actor.remote(config) for _ in range(count)]
        self.running: dict = {}  # ObjectRef -> (actor, Job)
        self.assemblies: dict[str, Assembly] = {}  # input -> the long video being processed in chunks
        try:
            self.labels = dict(zip(self.actors, ray.get([actor.ready.remote() for actor in self.actors])))
        except RayError as error:
            raise ValueError(f"the batch workers could not start: {one_line(error)}") from None

    def run(self, jobs: list[Job], view: BatchView, outcomes: dict[str, Outcome]) -> None:
        waiting, idle = deque(jobs), list(self.actors)
        last_poll = 0.0
        while waiting or self.running:
            while idle and waiting:
                job = waiting.popleft()
                assembly = Assembly.plan(job, self.chunk_seconds)
                if assembly is not None:  # a long video: its chunks go first, in order
                    self.assemblies[job.input] = assembly
                    waiting.extendleft(reversed(assembly.chunks))
                    continue
                with signals_held():
                    actor = idle.pop()
                    self.running[actor.process.remote(job, self.settings)] = (actor, job)
            ready, _ = ray.wait(list(self.running), num_returns=1, timeout=REFRESH)
            for ref in ready:
                actor, job = self.running.pop(ref)
                outcome, actor = self.collect(ref, actor, job)
                self.record(job, outcome, view, outcomes, waiting)
                idle.append(actor)
            if time.perf_counter() - last_poll >= REFRESH:
                view.update(self.poll())
                last_poll = time.perf_counter()

    def record(self, job: Job, outcome: Outcome, view: BatchView, outcomes: dict[str, Outcome],
               waiting: deque | None = None) -> None:
        """A finished input, or a finished chunk: once all of an input's chunks are in, they are joined
        into its outputs. A chunk that did not finish cancels its input's chunks still `waiting`."""
        if not job.chunk:
            outcomes[job.input] = outcome
            view.add(outcome)
            return
        assembly = self.assemblies[job.input]
        assembly.add(job, outcome)
        view.add_chunk(outcome)
        if outcome.status != "done" and waiting is not None:
            for queued in [queued for queued in waiting if queued.chunk and queued.input == job.input]:
                waiting.remove(queued)
                assembly.add(queued, Outcome(queued.name, queued.input, "not started"))
        if assembly.complete:
            del self.assemblies[job.input]
            outcomes[job.input] = assembly.finish(self.settings)
            view.add(outcomes[job.input])

    def collect(self, ref, actor, job: Job):
        """(the Outcome of a finished call, the actor to use next: a fresh one if this one died)."""
        try:
            return ray.get(ref), actor
        except RayActorError as error:  # the process died (a crash in a decoder, out of memory): replace it
            replacement = self.actor.remote(self.config)
            self.actors = [replacement if one is actor else one for one in self.actors]
            self.labels[replacement] = "restarted worker"
            reason = f"the worker died on it: {one_line(error)}"
            return Outcome(job.name, job.input, "failed", reason=reason, worker=self.labels.get(actor, "")), replacement
        except RayTaskError as error:  # an error the worker does not expect of an input: still one line
            return Outcome(job.name, job.input, "failed", reason=one_line(error), worker=self.labels.get(actor, "")), actor

    def poll(self) -> dict[str, tuple[str | None, int]]:
        """What each busy worker is on and its frames so far (left out where it does not answer at once)."""
        busy = {}
        for actor, _ in self.running.values():
            try:
                busy[self.labels.get(actor, "?")] = ray.get(actor.status.remote(), timeout=REFRESH)
            except (GetTimeoutError, RayError):
                continue
        return busy

    def wind_down(self, view: BatchView, outcomes: dict[str, Outcome]) -> None:
        """Tell every busy worker to stop after its frame and collect what it finalised, for up to GRACE s."""
        for actor, _ in self.running.values():
            actor.stop.remote()
        deadline = time.monotonic() + GRACE
        try:
            while self.running and time.monotonic() < deadline:
                ready, _ = ray.wait(list(self.running), num_returns=1, timeout=min(REFRESH, GRACE))
                for ref in ready:
                    actor, job = self.running.pop(ref)
                    outcome, _ = self.collect(ref, actor, job)
                    self.record(job, outcome, view, outcomes)
        except KeyboardInterrupt:  # a second Ctrl-C: no more waiting
            pass
        for _, job in self.running.values():
            if not job.chunk:
                outcomes[job.input] = Outcome(job.name, job.input, "interrupted", reason="stopped without "
                                              "finalising (its temporary files are removed by the next run)")
        for assembly in self.assemblies.values():  # its chunks' files removed; those still written, by the next run
            outcomes[assembly.job.input] = assembly.abandon()
        self.assemblies = {}

    def close(self) -> None:
        for ref in self.running:
            ray.cancel(ref)
        for actor in self.actors:
            ray.kill(actor)
        self.running = {}


def worker_count(todo: list[Job], workers: int | None, chunk_seconds: float) -> int:
    """The workers to start: as asked (default: one per CPU of the cluster), but no more than there are
    inputs, or chunks where a few long videos are to be cut (counted from their headers)."""
    wanted = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    if len(todo) >= wanted or chunk_seconds <= 0:
        return min(wanted, len(todo))
    return min(wanted, sum(chunk_count(job.input, chunk_seconds) if job.kind == "video" else 1 for job in todo))


def run_batch(arguments: list[str], out: os.PathLike | str, config: RunConfig, *, address: str | None = None,
              workers: int | None = None, json_path: os.PathLike | str | None = None, video: bool = True,
              jsonl: bool = True, masks: bool = True, chunk_seconds: float = DEFAULT_SECONDS,
              console: Console | None = None) -> BatchReport:
    """Every input the arguments name through `config`'s mode on Ray workers, outputs under `out`;
    videos at least twice `chunk_seconds` long (0: none) in chunks of about that (batch/chunks.py).
    Returns the report (its summary printed on `console`, and written to `json_path` as JSON); an
    interruption raises after both."""
    console = console or Console(stderr=True)
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    if not (math.isfinite(chunk_seconds) and chunk_seconds >= 0):
        raise ValueError(f"--chunk-seconds must be a number of seconds, or 0 for no chunks; got {chunk_seconds}")
    if not any((video, jsonl, masks)):
        raise ValueError("nothing to write: --no-video, --no-jsonl and --no-masks together leave no output")
    config = config.replace(display=False)
    segment = config.mode in ("segment", "compare")
    jobs = plan(arguments, out, video=video, jsonl=jsonl, masks=masks and segment)
    check_writable(out, folder=True)
    if json_path:
        check_writable(json_path)
    settings = {"config": config.to_dict(), "video": video, "jsonl": jsonl, "masks": masks and segment}
    outcomes = {job.input: Outcome(job.name, job.input, "skipped", reason=None) for job in jobs if is_done(job, settings)}
    todo = [job for job in jobs if job.input not in outcomes]
    started = time.perf_counter()
    stopped: BaseException | None = None
    count, cluster, startup = 0, "nothing to do", 0.0
    if todo:
        disconnect, cluster = connect(address)
        pool = None
        try:
            count = worker_count(todo, workers, chunk_seconds)
            console.print(f"streamsee batch: {len(todo)} of {len(jobs)} inputs to process on {count} "
                          f"worker{'s' * (count != 1)} ({cluster})", markup=False, highlight=False)
            pool = Pool(config, count, settings, chunk_seconds)
            startup = time.perf_counter() - started
            with BatchView(len(todo), console) as view:
                try:
                    pool.run(todo, view, outcomes)
                except BaseException as error:  # Ctrl-C, SIGTERM: finalise what is running, then report
                    stopped = error
                    pool.wind_down(view, outcomes)
        finally:
            if pool is not None:
                pool.close()
            if disconnect:
                ray.shutdown()
    report = BatchReport(tuple(outcomes.get(job.input) or Outcome(job.name, job.input, "not started") for job in jobs),
                         time.perf_counter() - started, count, config.mode, cluster, stopped is not None, startup)
    report.render(console)
    if json_path:
        write_text(json_path, json.dumps(report.to_json(), indent=1))
    if stopped is not None:
        raise stopped
    return report

