"""Measure variants of the two paths on the real development set (docs/experiments.md records the figures).

    python scripts/footage_variants.py [--frames 20] [--smooth 0.6] [--box-model PATH] [--fcn PATH]
        [--grids 1,2,3] [--square-crops] [--max-proposals N] [--min-score S] [--modes boxes,segment]
        [--working-width 128] [--coarse-every 3] [--lead-gap 4] [--segment-min-score 0.5]
        [--fuse mean|max|confidence|geometric] > runs/footage_VARIANT.json

Prints the `evaluate --footage --json` report (int8 exports) of an analyser built with the variant:
- --fcn: another class FCN (fcn_int8.tflite of `streamsee train fcn`);
- --box-model: another box model for the box path, the FCN path's region namer and its coarse windows;
- --max-proposals: the box path's crops a frame (BoxDetector.max_proposals, the large boxes included);
- --grids: the coarse windows' levels (windows.GRIDS: windows per side);
- --square-crops: every crop grown to a square about its centre (inside the frame) before it is
  squeezed to 32x32, in the box path, the windows and the namer;
- --working-width: the class FCN's working width (fcn.WORKING_WIDTH);
- --coarse-every: with smoothing, the coarse windows made on every N-th frame of a scene
  (smoothing.COARSE_EVERY);
- --lead-gap: frames between a scored frame's lead frames (footage.LEAD_GAP; 1: consecutive frames, as a
  file job analyses them);
- --segment-min-score: the FCN path's least region probability (segmenter.MIN_SCORE);
- --fuse: how the FCN path's two levels (class FCN, coarse windows) make one probability per map cell
  (segmenter.fuse: the mean; or the per-class maximum renormalised, each level weighted by its likeliest
  score, the geometric mean renormalised).
"""

import argparse
import functools
import json

import numpy as np

import streamsee.evaluation.footage as footage
import streamsee.recognition.boxes as boxes
import streamsee.recognition.regions as regions
import streamsee.recognition.segmenter as segmenter
import streamsee.recognition.windows as windows
from streamsee.evaluation.footage import LEAD_GAP, evaluate_footage
from streamsee.live.analyser import Analyser
from streamsee.live.smoothing import COARSE_EVERY, CoarseReuse
from streamsee.recognition.boxes import DEFAULT_BOX_MODEL, MAX_PROPOSALS, BoxDetector
from streamsee.recognition.fcn import DEFAULT_FCN, WORKING_WIDTH, ScoreMap
from streamsee.recognition.regions import RegionNamer
from streamsee.recognition.segmenter import MIN_SCORE, Segmenter
from streamsee.recognition.windows import GRIDS, WindowScores

parser = argparse.ArgumentParser()
parser.add_argument("--media", default="../shared/media")
parser.add_argument("--frames", type=int, default=20)
parser.add_argument("--smooth", type=float, default=0.6)
parser.add_argument("--box-model", default=str(DEFAULT_BOX_MODEL))
parser.add_argument("--fcn", default=str(DEFAULT_FCN), help="the FCN path's class FCN (int8 export)")
parser.add_argument("--grids", default=",".join(map(str, GRIDS)))
parser.add_argument("--square-crops", action="store_true")
parser.add_argument("--max-proposals", type=int, default=MAX_PROPOSALS, help="the box path's crops a frame, large boxes included")
parser.add_argument("--min-score", type=float, default=None, help="the box path's threshold (default: calibrated)")
parser.add_argument("--modes", default="boxes,segment")
parser.add_argument("--working-width", type=int, default=WORKING_WIDTH)
parser.add_argument("--coarse-every", type=int, default=COARSE_EVERY)
parser.add_argument("--lead-gap", type=int, default=LEAD_GAP)
parser.add_argument("--segment-min-score", type=float, default=MIN_SCORE)
parser.add_argument("--fuse", choices=("mean", "max", "confidence", "geometric"), default="mean")
args = parser.parse_args()


def renormalised(probabilities: np.ndarray) -> np.ndarray:
    return probabilities / probabilities.sum(axis=-1, keepdims=True)


def confidence_weighted(fine: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """Each level weighted per cell by its likeliest score."""
    fine_weight, coarse_weight = fine.max(axis=-1, keepdims=True), coarse.max(axis=-1, keepdims=True)
    return (fine_weight * fine + coarse_weight * coarse) / (fine_weight + coarse_weight)


FUSIONS = {"mean": segmenter.fuse, "max": lambda fine, coarse: renormalised(np.maximum(fine, coarse)),
           "confidence": confidence_weighted, "geometric": lambda fine, coarse: renormalised(np.sqrt(fine * coarse))}
segmenter.fuse = FUSIONS[args.fuse]

squeezed = boxes.crop_boxes


def square_crops(frame: np.ndarray, xyxy: np.ndarray, size: int = boxes.INPUT_SIZE) -> np.ndarray:
    """crop_boxes with each box grown to a square about its centre, kept inside the frame."""
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    height, width = frame.shape[:2]
    side = np.maximum(xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1])
    new_width, new_height = np.minimum(side, width), np.minimum(side, height)
    x1 = np.clip((xyxy[:, 0] + xyxy[:, 2] - new_width) / 2, 0, width - new_width)
    y1 = np.clip((xyxy[:, 1] + xyxy[:, 3] - new_height) / 2, 0, height - new_height)
    return squeezed(frame, np.stack([x1, y1, x1 + new_width, y1 + new_height], axis=1), size)


if args.square_crops:
    boxes.crop_boxes = regions.crop_boxes = windows.crop_boxes = square_crops

footage.sample_frames = functools.partial(footage.sample_frames, gap=args.lead_gap)
modes = tuple(args.modes.split(","))
analyser = Analyser("compare" if len(modes) == 2 else modes[0], smooth=args.smooth, runtime="int8")
for path in analyser.paths.values():
    path.close()
if "boxes" in modes:
    analyser.paths["boxes"] = BoxDetector(model_path=args.box_model, min_score=args.min_score,
                                            max_proposals=args.max_proposals)
if "segment" in modes:
    grids = tuple(int(n) for n in args.grids.split(","))
    analyser.paths["segment"] = Segmenter(ScoreMap(args.fcn, working_width=args.working_width),
                                          namer=RegionNamer(args.box_model),
                                          coarse=WindowScores(args.box_model, grids=grids), min_score=args.segment_min_score)
analyser.smoother.coarse = CoarseReuse(args.coarse_every)
report = evaluate_footage(args.media, frames_per_clip=args.frames, analyser=analyser)
report["variant"] = vars(args)
print(json.dumps(report))
