"""Segment mode at several settings of the class FCN's working width and of the coarse level's period (with
smoothing on, as the main job runs video): the bare analysis and the whole file job (decode, analyse, draw,
encode) on the bundled sample's first frames, rounds alternating, in frames a second and in this process's
CPU time a frame (steadier than the clock on a shared machine); medians and the best round of each.

    python scripts/time_segment_settings.py [--settings 160:2,128:3] [--frames 90] [--rounds 4] > runs/timing.json

Each setting is WIDTH:EVERY (fcn.WORKING_WIDTH, smoothing.COARSE_EVERY); EVERY 0 is smoothing off (`--smooth 0`:
the coarse level made on every frame, nothing averaged), e.g. 160:0,160:2 for the coarse level's reuse itself.
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
from streamsee.live.smoothing import KEEP, CoarseReuse


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


parser = argparse.ArgumentParser()
parser.add_argument("--settings", default="160:2,128:3")
parser.add_argument("--frames", type=int, default=90)
parser.add_argument("--rounds", type=int, default=4)
args = parser.parse_args()
settings = [tuple(int(part) for part in setting.split(":")) for setting in args.settings.split(",")]
with open_video(None) as video:
    frames = [item.image for item in video.frames() if hasattr(item, "image")][:args.frames]

rounds: dict[str, list] = {f"{width}:{every}": [] for width, every in settings}
with tempfile.TemporaryDirectory() as folder:
    for _ in range(args.rounds):
        for (width, every), name in zip(settings, rounds):
            with Analyser("segment", working_width=width, smooth=KEEP if every else 0.0) as analyser:
                analyser.smoother.coarse = CoarseReuse(max(every, 1))
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
best = {name: {part: {"fps": round(max(row[part]["fps"] for row in rows), 1),
                      "cpu_ms": round(min(row[part]["cpu_ms"] for row in rows), 1)} for part in ("bare", "file")}
        for name, rows in rounds.items()}  # the least disturbed round: other tenants only ever slow a round down
print(json.dumps({"frames": len(frames), "medians": medians, "best": best, "rounds": rounds}))
