"""Measure variants of the two paths on the real development set (docs/experiments.md records the figures).

    python scripts/footage_variants.py [--frames 20] [--box-model PATH] [--windows] [--smooth 0.6] [--min-score S]
      > runs/footage_VARIANT.json

Prints the `evaluate --footage --json` report of an analyser built with the given variant.
"""

import argparse
import json

from streamsee.evaluation.footage import evaluate_footage
from streamsee.live.analyser import Analyser
from streamsee.recognition.boxes import DEFAULT_BOX_MODEL, BoxDetector
from streamsee.recognition.fcn import ScoreMap
from streamsee.recognition.regions import ObjectFinder, RegionNamer
from streamsee.recognition.segmenter import Segmenter
from streamsee.recognition.windows import WindowScores

parser = argparse.ArgumentParser()
parser.add_argument("--media", default="../shared/media")
parser.add_argument("--frames", type=int, default=20)
parser.add_argument("--box-model", default=str(DEFAULT_BOX_MODEL))
parser.add_argument("--windows", action="store_true", help="the coarse level: the box model over large windows")
parser.add_argument("--smooth", type=float, default=0.0)
parser.add_argument("--min-score", type=float, default=None)
parser.add_argument("--segment-min-score", type=float, default=0.0)
args = parser.parse_args()

analyser = Analyser("compare", smooth=args.smooth)
for path in analyser.paths.values():
    path.close()
analyser.paths["boxes"] = BoxDetector(model_path=args.box_model, min_score=args.min_score)
analyser.paths["segment"] = Segmenter(ScoreMap(), ObjectFinder(), RegionNamer(args.box_model),
                                      coarse=WindowScores(args.box_model) if args.windows else False, min_score=args.segment_min_score)
report = evaluate_footage(args.media, frames_per_clip=args.frames, analyser=analyser)
report["variant"] = vars(args)
print(json.dumps(report))
