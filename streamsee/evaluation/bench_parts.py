"""The bench's measurements (parts 1, 2, 3 and 6; 4 and 5 are in bench_limit.py).

Every part times the shipped code from outside: the paths' steps are timed by wrapping the methods
of the objects a path holds (instance attributes, so the recognition code is untouched).
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from streamsee.core.resource import Resource
from streamsee.evaluation.bench_limit import model_macs
from streamsee.recognition.boxes import BoxDetector
from streamsee.recognition.classifier import DEFAULT_MODEL, Classifier
from streamsee.recognition.fcn import ScoreMap
from streamsee.recognition.proposals import PROPOSAL_METHODS, make_proposals, recall
from streamsee.recognition.segmenter import Segmenter
from streamsee.render.drawing import BoxAnnotator, HeatmapAnnotator
from streamsee.video.frame import Frame
from streamsee.video.sources import VideoFile, open_source


def summary(times: list[float]) -> dict:
    """Median, 95th percentile and mean of milliseconds, and how many."""
    return {"p50_ms": round(float(np.percentile(times, 50)), 3), "p95_ms": round(float(np.percentile(times, 95)), 3),
            "mean_ms": round(float(np.mean(times)), 3), "n": len(times)}


def open_video(path: str | None):
    """The bench's video (None: the bundled sample); anything but a video file is a ValueError."""
    source = open_source(path)
    if not isinstance(source, VideoFile):
        source.close()
        raise ValueError(f"--input must be a video file, got {path!r}")
    return source


def decode_frames(path: str | None, count: int) -> list[np.ndarray]:
    """The first `count` frames of the video (fewer if it is shorter), BGR."""
    with open_video(path) as source:
        images = []
        for item in source.frames():
            if isinstance(item, Frame):
                images.append(item.image)
                if len(images) == count:
                    break
    if not images:
        raise ValueError(f"no frames decoded from {path or 'the bundled sample'!r}")
    return images


def resized(frames: list[np.ndarray], size: tuple[int, int]) -> list[np.ndarray]:
    width, height = size
    return [frame if frame.shape[1::-1] == (width, height) else
            cv2.resize(frame, size, interpolation=cv2.INTER_AREA if width < frame.shape[1] else cv2.INTER_LINEAR)
            for frame in frames]


class StageClock:
    """Milliseconds spent in wrapped methods, per stage, and each model run's input shape."""

    def __init__(self):
        self.ms: dict[str, float] = defaultdict(float)
        self.runs: list[tuple[Path, tuple[int, ...]]] = []

    def reset(self) -> None:
        self.ms.clear()
        self.runs.clear()

    def wrap(self, owner, method: str, stage: str) -> None:
        """Time owner.method (an instance attribute shadows the class's); a model's `run` records its input."""
        original = getattr(owner, method)
        model = owner if method == "run" else None

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.ms[stage] += (time.perf_counter() - started) * 1000
                if model is not None:
                    self.runs.append((model.model_path, tuple(args[0].shape)))
        setattr(owner, method, timed)


def instrument_fcn(segmenter: Segmenter, clock: StageClock) -> None:
    clock.wrap(segmenter.scores, "shrink", "preprocess")
    models = {"class FCN": segmenter.scores, "objectness FCN": segmenter.objects.objectness,
              "window classifier": segmenter.coarse.classifier if segmenter.coarse is not None else None,
              "naming classifier": segmenter.namer.classifier}
    for name, model in models.items():
        if model is not None:
            clock.wrap(model, "run", f"inference: {name}")


def instrument_boxes(detector: BoxDetector, clock: StageClock) -> None:
    clock.wrap(detector, "propose", "proposals")
    clock.wrap(detector, "classify_boxes", "crops and inference")
    clock.wrap(detector.classifier, "run", "inference: classifier")


def stages_of(clock: StageClock, total: float) -> dict[str, float]:
    """A frame's stages: preprocess, inference (each model's too), postprocess (the rest of the path)."""
    models = {name: ms for name, ms in clock.ms.items() if name.startswith("inference: ")}
    inference = sum(models.values())
    if "crops and inference" in clock.ms:  # the box path: crops (and their mirror view) are its preprocess
        stages = {"proposals": clock.ms["proposals"], "preprocess": clock.ms["crops and inference"] - inference}
    else:
        stages = {"preprocess": clock.ms.get("preprocess", 0.0)}
    stages["inference"] = inference
    stages["postprocess"] = max(0.0, total - sum(stages.values()))
    return {**stages, **models}


def bench_paths(frames: list[np.ndarray], repeats: int, models: dict | None = None) -> dict:
    """Each path per frame at this size, stage by stage, the draw apart; the two paths take turns
    frame by frame (a shared machine's load drifts alike for both); one warm-up frame each. `models`: the
    exports the main job runs (live.analyser.choose_models; default: the shipped int8 ones)."""
    clocks = {"fcn": StageClock(), "boxes": StageClock()}
    draw = {"fcn": HeatmapAnnotator().annotate, "boxes": BoxAnnotator().annotate}
    times: dict[str, dict[str, list[float]]] = {kind: defaultdict(list) for kind in clocks}
    macs: dict[str, list[int]] = {kind: [] for kind in clocks}
    boxes = (models or {}).get("boxes")
    box_model = {"model_path": boxes.path, "threads": boxes.threads} if boxes else {}
    with Segmenter.at_widths(models=models) as segmenter, BoxDetector(**box_model) as detector:
        paths = {"fcn": segmenter, "boxes": detector}
        instrument_fcn(segmenter, clocks["fcn"])
        instrument_boxes(detector, clocks["boxes"])
        for kind, path in paths.items():
            draw[kind](frames[0], path(frames[0]))
        for _ in range(repeats):
            for frame in frames:
                for kind, path in paths.items():
                    clock = clocks[kind]
                    clock.reset()
                    started = time.perf_counter()
                    result = path(frame)
                    total = (time.perf_counter() - started) * 1000
                    started = time.perf_counter()
                    draw[kind](frame, result)
                    drawn = (time.perf_counter() - started) * 1000
                    for stage, ms in {"total": total, **stages_of(clock, total), "draw": drawn,
                                      "total_with_draw": total + drawn}.items():
                        times[kind][stage].append(ms)
                    macs[kind].append(sum(model_macs(model, shape) for model, shape in clock.runs))
    report = {kind: {"total": summary(times[kind].pop("total")),
                     "stages": {stage: summary(ms) for stage, ms in times[kind].items()},
                     "macs_per_frame": int(np.mean(macs[kind]))} for kind in clocks}
    report["frames"] = len(frames) * repeats
    report["fcn_over_boxes"] = round(report["fcn"]["total"]["p50_ms"] / report["boxes"]["total"]["p50_ms"], 3)
    return report


def bench_proposals(frames: list[np.ndarray], scenes: list, repeats: int) -> dict:
    """Each proposal method on the real frames (time) and on composed scenes (time and object recall:
    pasted objects a proposal covers at IoU >= 0.5), the methods taking turns frame by frame."""
    methods = {method: make_proposals(method) for method in PROPOSAL_METHODS}
    report: dict = {"frames": {}, "scenes": {}}
    for key, images in (("frames", frames), ("scenes", [scene.image for scene in scenes])):
        times: dict[str, list[float]] = defaultdict(list)
        boxes: dict[str, list[np.ndarray]] = defaultdict(list)
        for propose in methods.values():
            propose(images[0])
        for _ in range(repeats):
            for image in images:
                for method, propose in methods.items():
                    started = time.perf_counter()
                    found = propose(image)
                    times[method].append((time.perf_counter() - started) * 1000)
                    boxes[method].append(found)
        for method in methods:
            report[key][method] = summary(times[method])
            report[key][method]["boxes_per_frame"] = round(float(np.mean([len(b) for b in boxes[method]])), 1)
        if key == "scenes":
            objects = sum(len(scene.class_id) for scene in scenes)
            report["scenes"]["count"], report["scenes"]["objects"] = len(scenes), objects
            for method in methods:
                found = sum(recall(b, s.xyxy) * len(s.class_id) for b, s in zip(boxes[method], scenes) if len(s.class_id))
                report["scenes"][method]["object_recall"] = round(found / max(objects, 1), 4)
    report["dlib_over_boundieboxies"] = round(report["scenes"]["dlib"]["p50_ms"]
                                              / report["scenes"]["boundieboxies"]["p50_ms"], 3)
    return report


def crowded_scene(rng: np.random.Generator, background: np.ndarray, images: np.ndarray,
                  count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` CIFAR images pasted on a jittered grid over the background, as large as the grid lets
    them be (96 px at most, 8 at least): the image and the pasted boxes (x1, y1, x2, y2)."""
    canvas = background.copy()
    height, width = canvas.shape[:2]
    columns = max(1, math.ceil(math.sqrt(count * width / height)))
    rows = math.ceil(count / columns)
    cell = min(width / columns, height / rows)
    side = int(np.clip(cell * 0.8, 8, 96))
    cells = rng.choice(rows * columns, count, replace=False)
    boxes = []
    for index in cells:
        row, column = divmod(int(index), columns)
        x = int(column * cell + rng.integers(0, max(1, int(cell) - side + 1)))
        y = int(row * cell + rng.integers(0, max(1, int(cell) - side + 1)))
        x, y = min(x, width - side), min(y, height - side)
        canvas[y:y + side, x:x + side] = cv2.resize(images[rng.integers(len(images))], (side, side))
        boxes.append((x, y, x + side, y + side))
    return canvas, np.array(boxes, np.float32)


def bench_scaling(backgrounds: list[np.ndarray], images: np.ndarray, counts: tuple[int, ...],
                  frames_per_count: int, seed: int = 3) -> list[dict]:
    """Each proposal method's time and object recall as the objects per 640x480 frame grow."""
    rng = np.random.default_rng(seed)
    methods = {method: make_proposals(method) for method in PROPOSAL_METHODS}
    rows = []
    for count in counts:
        scenes = [crowded_scene(rng, backgrounds[i % len(backgrounds)], images, count) for i in range(frames_per_count)]
        row: dict = {"objects": count, "side_px": int(scenes[0][1][0, 2] - scenes[0][1][0, 0])}
        times: dict[str, list[float]] = defaultdict(list)
        found: dict[str, list[float]] = defaultdict(list)
        for image, xyxy in scenes:
            for method, propose in methods.items():
                started = time.perf_counter()
                boxes = propose(image)
                times[method].append((time.perf_counter() - started) * 1000)
                found[method].append(recall(boxes, xyxy))
        for method in methods:
            row[method] = {**summary(times[method]), "object_recall": round(float(np.mean(found[method])), 4)}
        rows.append(row)
    return rows


def bench_windows(frame: np.ndarray, working_width: int, repeats: int, batch_size: int = 256) -> dict:
    """Classifying a 32x32 window around every cell of the class FCN's output (stride 2 at its working
    size), in batches through the classifier (one view, its int8 model: the FCN's backbone), against one
    pass of the class FCN; both from the frame already shrunk to the working size."""
    with ScoreMap(working_width=working_width) as scores, Classifier(DEFAULT_MODEL, mirror=False) as classifier:
        working = scores.shrink(frame)
        height, width = scores(working).shape[:2]
        fcn = []
        for _ in range(max(1, repeats) * 3):
            started = time.perf_counter()
            scores(working)
            fcn.append((time.perf_counter() - started) * 1000)
        stride = working.shape[2] // width
        padded = cv2.copyMakeBorder(working[0], 15, 16, 15, 16, cv2.BORDER_REFLECT_101)
        classifier.predict(np.zeros((min(batch_size, height * width), 32, 32, 3), np.uint8))  # warm-up
        started = time.perf_counter()
        views = np.lib.stride_tricks.sliding_window_view(padded, (32, 32, 3))[::stride, ::stride, 0][:height, :width]
        windows = np.ascontiguousarray(views.reshape(-1, 32, 32, 3))
        classifier.predict(windows, batch_size)
        windows_ms = (time.perf_counter() - started) * 1000
    fcn_ms = summary(fcn)["p50_ms"]
    return {"working_size": list(working.shape[1:3]), "output_cells": [height, width], "stride": stride,
            "windows": len(windows), "batch_size": batch_size, "windows_ms": round(windows_ms, 3),
            "per_window_ms": round(windows_ms / len(windows), 4), "fcn_ms": fcn_ms,
            "windows_over_fcn": round(round(windows_ms, 3) / fcn_ms, 3)}


class FirstFrames(Resource):
    """A video file cut after its first `count` frames; with `rate`, retimed to it (frame i at i / rate s)."""

    def __init__(self, source: VideoFile, count: int, rate: int | None = None):
        self.source, self.count = source, count
        self.retime = None if rate is None else Fraction(rate)

    def __getattr__(self, name):
        return getattr(self.source, name)

    @property
    def rate(self) -> Fraction:
        return self.source.rate if self.retime is None else self.retime

    def close(self) -> None:
        self.source.close()

    def frames(self):
        taken = 0
        for item in self.source.frames():
            if isinstance(item, Frame):
                if taken == self.count:
                    return
                if self.retime is not None:
                    item = replace(item, timestamp=float(taken / self.retime))
                taken += 1
            yield item


def file_against_bare(path: str | None, mode: str, frames: list[np.ndarray], rounds: int = 1) -> dict:
    """`mode` with the main job's settings (core.config.RunConfig: smoothing on, so the FCN path's coarse level
    is made every third frame): the bare path (the analysis alone, on the decoded frames) against the whole
    file job (decode, analyse, draw with the HUD, encode: live.pipeline.process into a temporary .mp4) on the
    same frames, in frames per second; `rounds` of each, taking turns, and their medians (a shared machine's
    speed drifts within a minute)."""
    from streamsee.core.config import RunConfig
    from streamsee.live.analyser import Analyser
    from streamsee.live.pipeline import process

    bare, file, run = [], [], None
    with tempfile.TemporaryDirectory(prefix="streamsee-bench-") as folder, \
            Analyser.from_config(RunConfig(mode=mode)) as analyser:
        analyser(frames[0])  # warm-up: the file job below runs the same, warm, analyser
        for _ in range(rounds):
            analyser.smoother.reset()
            started = time.perf_counter()
            for frame in frames:
                analyser(frame)
            bare.append(len(frames) / (time.perf_counter() - started))
            analyser.smoother.reset()  # the file job starts the video afresh
            with open_video(path) as video:
                run = process(FirstFrames(video, len(frames)), analyser, output=Path(folder) / f"{mode}.mp4",
                              notify=lambda line: None)
            file.append(run.frames_per_second)
    row = {"bare_fps": round(statistics.median(bare), 3), "file_fps": round(statistics.median(file), 3),
           "rounds": rounds, "file_frames": run.snapshot.frames, "file_stage_ms": run.snapshot.to_json()["stage_ms"]}
    row["file_over_bare"] = round(row["file_fps"] / row["bare_fps"], 3)
    return row


def bench_live(path: str | None, frames: list[np.ndarray], budget_ms: float, live_frames: int, live_fps: int) -> dict:
    """The segment mode live: the video retimed to `live_fps` and played at that rate (--realtime), drawn and
    encoded: the results' age when drawn against the budget (what live.governor holds), and each frame's latency."""
    from streamsee.core.config import RunConfig
    from streamsee.live.analyser import Analyser
    from streamsee.live.pipeline import process
    from streamsee.video.sources import Paced

    with tempfile.TemporaryDirectory(prefix="streamsee-bench-") as folder, \
            Analyser.from_config(RunConfig(mode="segment")) as analyser, open_video(path) as video:
        analyser(frames[0])
        analyser.smoother.reset()
        source = Paced(FirstFrames(video, live_frames, rate=live_fps))
        run = process(source, analyser, output=Path(folder) / "live.mp4", budget_ms=budget_ms,
                      notify=lambda line: None)
    # What the budget holds (live.governor): a result's age when first drawn, capture of its frame -> drawn.
    # Every frame is drawn at once with the newest result: its own latency (capture -> drawn) is apart.
    snapshot, cost = run.snapshot, run.cost or {}
    return {"p50_ms": cost.get("result_age_p50_ms"), "p95_ms": cost.get("result_age_p95_ms"),
            "budget_ms": budget_ms, "results": cost.get("results"), "final_cost_level": cost.get("level"),
            "frame_latency_p50_ms": round(snapshot.latency_p50_ms, 1),
            "frame_latency_p95_ms": round(snapshot.latency_p95_ms, 1), "source_fps": live_fps,
            "frames": snapshot.frames, "seconds": round(run.seconds, 2), "analysed": snapshot.analysed,
            "skipped": snapshot.skipped, "dropped": snapshot.dropped, "cost": run.cost}
