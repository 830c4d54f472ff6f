"""Soak test of the main job: a 30 fps live source for N minutes, one JSON report on stdout.

    python scripts/soak.py --minutes 10                  # segment mode, --budget-ms 250
    python scripts/soak.py --minutes 1 --period 15       # a short trial

The source behaves like a camera: it delivers a 640x480 frame every 1/30 s by the wall clock (the
bundled sample video, decoded again and again), and a frame whose tick passed while the reader was
busy is never captured (counted as `missed_by_source`). The frames go through the same `process()`
as `streamsee INPUT` (analyser, threads, HUD, annotated video, JSON lines) in segment mode.

Every 10 s the script samples the process's resident memory (psutil if installed, else
/proc/self/status), the queue lengths between the threads and the analysis cost level. The report
gives capture-to-render latency p50/p95 per period (default a minute), the memory growth after the
warm-up (the first minute, or the first quarter of a shorter run), whether a queue grew, and whether
the annotated video plays: every frame decodes and there are as many as were drawn. `checks` holds
the soak's pass conditions (tests/test_soak.py): memory growth under 5 % after the warm-up, the last
period's p95 within 10 % of the first's (or better), no growing queue, output playable. The exit
status is 0 when all hold, 1 when one does not.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from streamsee.core.config import RunConfig
from streamsee.core.files import SAMPLE_VIDEO
from streamsee.live.analyser import Analyser
from streamsee.live.pipeline import process
from streamsee.video.sources import Frame, VideoFile

RATE = 30
SAMPLE_EVERY_S = 10.0
MAX_RSS_GROWTH = 0.05
MAX_P95_RISE = 0.10


def resident_mb() -> float:
    """This process's resident memory in MiB."""
    try:
        import psutil
    except ModuleNotFoundError:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")
    return psutil.Process().memory_info().rss / 2**20


class LoopedCamera:
    """A stand-in camera: `seconds` of 30 fps frames from a clip played in a loop, one per wall-clock
    tick; ticks that pass while the reader is away are missed, as a camera's driver would drop them."""

    live = True
    stills = False
    time_base = None
    audio = None
    error = None

    def __init__(self, clip: Path, seconds: float, rate: int = RATE):
        self.clip, self.seconds, self.rate = clip, seconds, Fraction(rate)
        with VideoFile(clip) as probe:
            self.size = probe.size
        self.name = self.description = f"{clip.name} looped as a {rate} fps camera"
        self.missed = 0

    def close(self) -> None:
        pass

    def _looped(self):
        while True:
            with VideoFile(self.clip) as video:
                for item in video.frames():
                    if isinstance(item, Frame):
                        yield item

    def frames(self):
        start = time.perf_counter()
        tick, index, last = 0, 0, int(self.seconds * self.rate)
        looped = self._looped()
        try:
            for decoded in looped:
                delay = start + tick / self.rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                else:
                    late = int(-delay * self.rate)  # ticks that passed while the reader was busy
                    self.missed += min(late, last - tick)
                    tick += late
                if tick >= last:
                    return
                yield Frame(index, decoded.image, float(tick / self.rate), time.perf_counter(), decoded.decode_ms)
                index += 1
                tick += 1
        finally:
            looped.close()  # the clip open at the time is closed


class Sampler:
    """Every SAMPLE_EVERY_S on its own thread: memory, queue lengths, frames so far, cost level."""

    def __init__(self):
        self.stream = None
        self.samples: list[dict] = []
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def watch(self, stream) -> None:
        self.stream = stream
        self.started = time.perf_counter()
        self._thread.start()

    def _sample(self) -> None:
        stream = self.stream
        self.samples.append({
            "t_s": round(time.perf_counter() - self.started, 1), "rss_mb": round(resident_mb(), 1),
            "results_queue": stream.results.qsize(), "frames_queue": stream.frames.qsize(),
            "newest_waiting": len(stream.newest), "frames": stream.stats.frames,
            "level": None if stream.governor is None else stream.governor.level})

    def _run(self) -> None:
        self._sample()
        while not self._stop.wait(SAMPLE_EVERY_S):
            self._sample()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def percentiles_by_period(rows_path: Path, period_s: float) -> list[dict]:
    """Capture-to-render latency p50/p95 per period of the source's clock, from the JSON lines."""
    periods: dict[int, list[float]] = {}
    with open(rows_path, encoding="utf-8") as rows:
        for line in rows:
            row = json.loads(line)
            periods.setdefault(int((row["t"] or 0.0) // period_s), []).append(row["latency_ms"])
    return [{"period": n, "frames": len(values), "p50_ms": round(float(np.percentile(values, 50)), 1),
             "p95_ms": round(float(np.percentile(values, 95)), 1)} for n, values in sorted(periods.items())]


def playable(path: Path) -> dict:
    """Decode the whole video: its frame count, or the error that stopped it."""
    frames = 0
    try:
        with av.open(str(path)) as container:
            for _ in container.decode(video=0):
                frames += 1
    except (av.FFmpegError, OSError) as error:
        return {"frames": frames, "error": str(error)}
    return {"frames": frames, "error": None}


def median_mb(samples: list[dict]) -> float:
    return float(np.median([sample["rss_mb"] for sample in samples]))


def soak(minutes: float, mode: str, budget_ms: float, period_s: float, folder: Path) -> dict:
    seconds = minutes * 60
    camera = LoopedCamera(SAMPLE_VIDEO, seconds)
    config = RunConfig(mode=mode, budget_ms=budget_ms, display=False)
    sampler = Sampler()
    output, rows = folder / "soak.mp4", folder / "soak.jsonl"
    started = time.perf_counter()
    try:
        with Analyser.from_config(config) as analyser:
            report = process(camera, analyser, output=output, jsonl=rows, budget_ms=config.budget_ms,
                             queue_size=config.queue_size, notify=lambda line: print(f"soak: {line}", file=sys.stderr),
                             watch=sampler.watch)
    finally:
        sampler.stop()
    wall_s = time.perf_counter() - started
    snapshot = report.snapshot
    samples = sampler.samples
    warmup_s = min(60.0, seconds / 4)
    after = [sample for sample in samples if sample["t_s"] >= warmup_s] or samples
    first_mb, last_mb = median_mb(after[:3]), median_mb(after[-3:])
    growth = (last_mb - first_mb) / first_mb if first_mb else float("nan")
    by_period = percentiles_by_period(rows, period_s)
    partial_last = seconds % period_s > 0 and len(by_period) > 1  # a last period shorter than the others is left aside
    full = by_period[:-1] if partial_last else by_period
    p95_rise = full[-1]["p95_ms"] / full[0]["p95_ms"] - 1 if full and full[0]["p95_ms"] else float("nan")
    queue_lengths = [sample["results_queue"] + sample["frames_queue"] + sample["newest_waiting"] for sample in after]
    third = max(1, len(queue_lengths) // 3)
    growing = bool(queue_lengths) and np.mean(queue_lengths[-third:]) > np.mean(queue_lengths[:third]) + 1
    video = playable(output)
    checks = {
        "rss_growth_under_5_percent": bool(growth < MAX_RSS_GROWTH),
        "last_p95_within_10_percent_of_first": bool(p95_rise <= MAX_P95_RISE),
        "no_growing_queue": not growing and max(queue_lengths or [0]) <= config.queue_size + 1,
        "output_playable": video["error"] is None and video["frames"] == snapshot.frames,
    }
    return {
        "minutes": minutes, "mode": mode, "budget_ms": budget_ms, "source": camera.description,
        "wall_s": round(wall_s, 1), "ended": report.ended,
        "frames": snapshot.frames, "analysed": snapshot.analysed, "skipped": snapshot.skipped,
        "dropped": snapshot.dropped, "missed_by_source": camera.missed,
        "latency_p50_ms": round(snapshot.latency_p50_ms, 1), "latency_p95_ms": round(snapshot.latency_p95_ms, 1),
        "latency_by_period": by_period, "period_s": period_s, "p95_rise_last_vs_first": round(p95_rise, 3),
        "warmup_s": warmup_s, "rss_mb_after_warmup": first_mb, "rss_mb_at_end": last_mb,
        "rss_growth_after_warmup": round(growth, 4), "samples": samples,
        "queue_max": max(queue_lengths or [0]), "queue_growing": bool(growing),
        "output": {"frames_written": snapshot.frames, "frames_decoded": video["frames"], "error": video["error"]},
        "cost": report.cost, "checks": checks, "ok": all(checks.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the source runs (default 10)")
    parser.add_argument("--mode", choices=("segment", "boxes", "compare"), default="segment")
    parser.add_argument("--budget-ms", type=float, default=250.0)
    parser.add_argument("--period", type=float, default=60.0, help="seconds per latency period (default 60)")
    parser.add_argument("--keep", metavar="DIR", default=None, help="keep the video and JSON lines in DIR")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.period <= 0 or args.budget_ms <= 0:
        parser.error("--minutes, --period and --budget-ms must be > 0")
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="streamsee-soak-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        report = soak(args.minutes, args.mode, args.budget_ms, args.period, folder)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(report, indent=1))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
