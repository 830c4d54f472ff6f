"""The box path's threshold and tracker settings on the real development set, replayed offline.

    python scripts/box_tracker_replay.py record [--box-model PATH] > runs/box_detections.json
    python scripts/box_tracker_replay.py replay runs/box_detections.json [--thresholds 0.9,0.94] [--confirm 1,2,3]

`record` runs the box path (int8, threshold 0.5) on every frame `evaluate --footage` analyses as the
main job runs video (smoothed: two lead frames before each scored one), with each frame's scene-cut
flag. `replay` keeps the detections at or over each threshold, runs live.smoothing.BoxTracker over
them (reset at scene cuts; photos as stills) and scores the frames as `evaluate --footage` does:
the figures at 0.5 would be wrong, but those at any threshold above it are exact, since per-class NMS
only lets a box be suppressed by a better one. Minutes to record, seconds to replay.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from streamsee.core.labels import CLASSES
from streamsee.core.result import Result
from streamsee.evaluation.footage import LEAD, MediaFile, read_labels, sample_frames, score_file, summarise
from streamsee.live.smoothing import KEEP, BoxTracker, SceneCut
from streamsee.recognition.boxes import DEFAULT_BOX_MODEL, BoxDetector

RECORD_MIN_SCORE = 0.5


def record(media: Path, frames_per_clip: int, box_model: str) -> dict:
    files = {}
    with BoxDetector(model_path=box_model, min_score=RECORD_MIN_SCORE) as detect:
        for item in read_labels(media):
            still, cut, rows = item.kind == "photo", SceneCut(), []
            for frame, scored in sample_frames(media / item.path, frames_per_clip, lead=0 if still else LEAD):
                result = detect(frame)
                rows.append({"scored": scored, "cut": cut(frame), "xyxy": result.xyxy.tolist(),
                             "class_id": result.class_id.tolist(), "score": result.score.tolist()})
            files[item.path] = {"classes": list(item.classes), "kind": item.kind, "frames": rows}
            print(item.path, len(rows), file=sys.stderr)
    return {"box_model": box_model, "frames_per_clip": frames_per_clip, "files": files}


def replay(recorded: dict, min_score: float, confirm: int) -> dict:
    """The box path's footage summary at this threshold with the tracker showing a track after `confirm` frames."""
    items, rows = [], {}
    for name, row in recorded["files"].items():
        item = MediaFile(name, tuple(row["classes"]), row["kind"])
        tracker, tops = BoxTracker(KEEP, confirm=confirm), []
        for frame in row["frames"]:
            score = np.array(frame["score"], np.float32)
            kept = score >= min_score
            result = Result(np.array(frame["xyxy"], np.float32).reshape(-1, 4)[kept],
                            np.array(frame["class_id"], int)[kept], score[kept])
            if item.kind == "video":
                if frame["cut"]:
                    tracker.reset()
                result = tracker(result)
            if frame["scored"]:
                tops.append(CLASSES[result.class_id[int(np.argmax(result.score))]] if len(result) else None)
        items.append(item)
        rows[name] = {"boxes": score_file(item, tops, [top is not None for top in tops])}
    return summarise(items, rows, paths=("boxes",))["boxes"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=("record", "replay"))
    parser.add_argument("recorded", nargs="?", help="replay: the JSON that record printed")
    parser.add_argument("--media", default="../shared/media")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--box-model", default=str(DEFAULT_BOX_MODEL))
    parser.add_argument("--thresholds", default="0.85,0.88,0.9,0.92,0.93,0.94,0.95,0.96,0.97,0.98")
    parser.add_argument("--confirm", default="2")
    args = parser.parse_args()
    if args.action == "record":
        print(json.dumps(record(Path(args.media), args.frames, args.box_model)))
        return
    recorded = json.loads(Path(args.recorded).read_text())
    print("threshold  confirm  positive clips right / negative clips claimed / positive photos right / "
          "negative photos claimed (positive clips mostly right)")
    for confirm in (int(n) for n in args.confirm.split(",")):
        for min_score in (float(t) for t in args.thresholds.split(",")):
            s = replay(recorded, min_score, confirm)
            print(f"{min_score:9.2f}  {confirm:7d}  {s['positive_videos']:.3f} / {s['negative_videos']:.3f} / "
                  f"{s['positive_photos']:.3f} / {s['negative_photos']:.3f} ({s['positive_videos_mostly_right']})")


if __name__ == "__main__":
    main()
