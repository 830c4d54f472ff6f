"""Issue 28, part 5: each stage of the FCN path measured on the real development set by leaving it out.

    python scripts/segment_stages.py [--media ../shared/media] [--frames 20] > runs/segment_stages.json
    python scripts/segment_stages.py --smooth 0.6 --only "shipped@0.5,no objectness + no namer@0.45" > runs/stages_smooth.json

Every variant sees the same frames (each on its own, no smoothing, regions kept down to min_score 0 so
thresholds can be swept afterwards with evaluation.footage.at_threshold); the report holds, per variant,
the footage summary at the shipped region threshold and at 0, and its median time per frame.
With --smooth KEEP each variant NAME@MIN_SCORE is run as `evaluate --footage` runs the main job instead
(smoothed, its two lead frames before each scored one).
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from streamsee.evaluation.footage import at_threshold, evaluate_footage, read_labels, sample_frames, score_file, summarise, top_label
from streamsee.live.analyser import Analyser
from streamsee.recognition.regions import ObjectFinder, RegionNamer
from streamsee.recognition.segmenter import MIN_SCORE, Segmenter

VARIANTS = {
    "shipped": lambda score: Segmenter(min_score=score),
    "no objectness FCN": lambda score: Segmenter(objects=ObjectFinder(None), min_score=score),
    "no region namer": lambda score: Segmenter(namer=RegionNamer(None), min_score=score),
    "no coarse windows": lambda score: Segmenter(coarse=False, min_score=score),
    "no region split": lambda score: Segmenter(namer=RegionNamer(split_background=0), min_score=score),
    "no naming opening": lambda score: Segmenter(namer=RegionNamer(naming_opening=0), min_score=score),
    "no objectness + no namer": lambda score: Segmenter(objects=ObjectFinder(None), namer=RegionNamer(None), min_score=score),
    "no objectness + no split": lambda score: Segmenter(objects=ObjectFinder(None), namer=RegionNamer(split_background=0),
                                                       min_score=score),
}

parser = argparse.ArgumentParser()
parser.add_argument("--media", default="../shared/media")
parser.add_argument("--frames", type=int, default=20)
parser.add_argument("--only", default=None, help="comma-separated variant names (NAME@MIN_SCORE with --smooth)")
parser.add_argument("--smooth", type=float, default=0.0)
args = parser.parse_args()
names = args.only.split(",") if args.only else list(VARIANTS)

if args.smooth:
    reports = {}
    for spec in names:
        name, _, score = spec.partition("@")
        analyser = Analyser("segment", smooth=args.smooth, runtime="int8")
        analyser.paths["segment"].close()
        analyser.paths["segment"] = VARIANTS[name](float(score or MIN_SCORE))
        report = evaluate_footage(args.media, frames_per_clip=args.frames, analyser=analyser)
        reports[spec] = report
        print(spec, report["summary"]["segment"], file=sys.stderr)
    print(json.dumps({"frames_per_clip": args.frames, "smooth": args.smooth, "variants": reports}))
    sys.exit(0)

files = read_labels(args.media)
segmenters = {name: VARIANTS[name](0.0) for name in names}
tops = {name: {} for name in names}
top_scores = {name: {} for name in names}
times = {name: [] for name in names}
for item in files:
    frames = [frame for frame, scored in sample_frames(Path(args.media) / item.path, args.frames) if scored]
    print(item.path, len(frames), file=sys.stderr)
    for name, segment in segmenters.items():
        tops[name][item.path], top_scores[name][item.path] = [], []
        for frame in frames:
            started = time.perf_counter()
            result = segment(frame)
            times[name].append((time.perf_counter() - started) * 1000)
            tops[name][item.path].append(top_label(result))
            top_scores[name][item.path].append(float(result.score.max(initial=0.0)))

report = {"frames_per_clip": args.frames, "variants": {}}
for name in names:
    rows = {item.path: {"classes": list(item.classes), "kind": item.kind,
                        "segment": score_file(item, tops[name][item.path], [top is not None for top in tops[name][item.path]],
                                              top_scores[name][item.path])} for item in files}
    at_zero = summarise(files, rows, paths=("segment",))["segment"]
    shipped = at_threshold({"files": rows}, "segment", MIN_SCORE)
    report["variants"][name] = {"at_0": at_zero, f"at_{MIN_SCORE}": shipped, "ms_p50": statistics.median(times[name]),
                                "files": rows}
    print(f"{name:28s} {statistics.median(times[name]):6.1f} ms  at 0: {at_zero}  at {MIN_SCORE}: {shipped}", file=sys.stderr)
for segment in segmenters.values():
    segment.close()
print(json.dumps(report))
