"""Segment mode with the coarse level made on every frame (smoothing off) and every other frame (on):
the bare analysis and the whole file job (decode, analyse, draw, encode) on the bundled sample's first
frames, rounds alternating, in frames a second and in this process's CPU time a frame (steadier than
the clock on a shared machine).

    python scripts/time_coarse_reuse.py [--frames 90] [--rounds 4] > runs/coarse_reuse_timing.json
"""

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from streamsee.evaluation.bench_parts import FirstFrames, open_video
from streamsee.live.analyser import Analyser
from streamsee.live.pipeline import process


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


parser = argparse.ArgumentParser()
parser.add_argument("--frames", type=int, default=90)
parser.add_argument("--rounds", type=int, default=4)
args = parser.parse_args()
with open_video(None) as video:
    frames = [item.image for item in video.frames() if hasattr(item, "image")][:args.frames]

rounds: dict[str, list] = {"every frame (smooth 0)": [], "every other frame (smooth 0.6)": []}
with tempfile.TemporaryDirectory() as folder:
    for _ in range(args.rounds):
        for name, smooth in zip(rounds, (0.0, 0.6)):
            with Analyser("segment", smooth=smooth) as analyser:
                analyser(frames[0])
                analyser.smoother.reset()
                started, cpu = time.perf_counter(), cpu_seconds()
                for frame in frames:
                    analyser(frame)
                bare = {"fps": len(frames) / (time.perf_counter() - started),
                        "cpu_ms": (cpu_seconds() - cpu) / len(frames) * 1000}
                analyser.smoother.reset()
                cpu = cpu_seconds()
                with open_video(None) as video:
                    run = process(FirstFrames(video, len(frames)), analyser, output=Path(folder) / "out.mp4",
                                  notify=lambda line: None)
                job = {"fps": run.frames_per_second, "cpu_ms": (cpu_seconds() - cpu) / len(frames) * 1000}
            rounds[name].append({"bare": bare, "file": job})
            print(name, json.dumps(rounds[name][-1]), file=sys.stderr)
medians = {name: {part: {key: round(statistics.median(row[part][key] for row in rows), 1) for key in ("fps", "cpu_ms")}
                  for part in ("bare", "file")} for name, rows in rounds.items()}
print(json.dumps({"frames": len(frames), "medians": medians, "rounds": rounds}))
