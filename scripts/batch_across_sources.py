"""Is one LiteRT call on a batch of N sources' frames faster per frame than N calls of one frame?

    python scripts/batch_across_sources.py                      # 7 rounds, N = 2 and 4, int8 and float
    python scripts/batch_across_sources.py --rounds 1           # a quick trial
    python scripts/batch_across_sources.py --json runs/batching.json

When several video sources run at once, several 640x480 frames can wait for analysis at the same
moment. This script times, for every LiteRT model a frame meets, the per-frame cost of
- `seq`: the model called once per frame, N times (its input at the shape one frame needs), against
- `batch`: one call on the N frames stacked along the batch dimension
  (`interpreter.resize_tensor_input(..., [N, ...])` then `allocate_tensors`).

The models and their inputs per frame (the live defaults):
- fcn: the class FCN (models/fcn) on the frame shrunk to fcn.WORKING_WIDTH (160x120);
- objectness: the objectness FCN (models/objectness) at fcn.OBJECTNESS_WIDTH (256x192);
- windows: the box model (models/boxes) on the pyramid's coarse level, windows.grid_windows (14 windows,
  each with its mirror view: 28 crops);
- naming: the box model naming the FCN path's regions (--regions regions, two crops each: 4 crops);
- boxes: the box model on the box path's crops (--crops crops with their mirror views: 256 rows; the
  2026-12-06 bench measured 9.6 GMAC a 640x480 frame, 256 passes of 37.4 M).
The box model's batch dimension is free (shape signature -1); the crops of N frames are one batch
of N times as many rows. The shipped FCNs fix their batch at 1: each upsampling TRANSPOSE_CONV gets
its output shape from a PACK of a constant 1 with the input's height and width, so a batch of N
fails at invoke ("SizeOfDimension(input, 0) != SizeOfDimension(output, 0)"). The script reports that
failure, then times a copy patched in memory (the constant set to N; no file is written), which is
what an FCN exported with a free batch dimension would do. The batched outputs are checked against
the per-frame outputs (max abs difference of the raw outputs).

Each model variant (int8, float) gets its own interpreters for 1 frame and for N frames, so nothing
is resized while timing, with the thread count the tool uses (os.cpu_count() unless --threads).
Every interpreter is warmed up first. The machine may be shared: in every round each model variant
is timed once (variants in a shuffled order), its max(N) frames one call each and its batches back
to back in a shuffled order; seq for N is the mean of the first N single calls. The ratio batch/seq
is taken within the round; the table gives medians over the rounds, and the best round of each
(the least disturbed). Input copies (set_tensor, and stacking the frames for a batch) are inside the
timings; the crops and shrinking are not (they are the same either way).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from streamsee.core.files import MODELS_DIR, SAMPLE_VIDEO
from streamsee.recognition.boxes import LARGE_BOXES, crop_boxes
from streamsee.recognition.fcn import OBJECTNESS_WIDTH, WORKING_WIDTH, shrink
from streamsee.recognition.proposals import make_proposals
from streamsee.recognition.runtime import load_interpreter, quiet_stderr
from streamsee.recognition.windows import grid_windows

FRAME_SIZE = (640, 480)
VARIANTS = {"int8": "{}_int8.tflite", "float": "{}_float.tflite"}


# ------------------------------------------------------------------ inputs

def read_frames(video: Path, count: int, spacing: int) -> list[np.ndarray]:
    """`count` frames of the video `spacing` frames apart (standing in for different sources), 640x480."""
    capture = cv2.VideoCapture(str(video))
    frames, index = [], 0
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            if not frames and index == 0:
                raise SystemExit(f"cannot read frames from {video}")
            capture.release()
            capture = cv2.VideoCapture(str(video))  # loop a short video
            continue
        if index % spacing == 0:
            frames.append(cv2.resize(frame, FRAME_SIZE, interpolation=cv2.INTER_AREA))
        index += 1
    capture.release()
    return frames


def with_mirror(crops: np.ndarray) -> np.ndarray:
    """The crops then their mirror views, as classifier.Classifier batches them."""
    return np.concatenate([crops, crops[:, :, ::-1]])


def box_path_crops(frame: np.ndarray, crops: int, propose) -> np.ndarray:
    height, width = frame.shape[:2]
    boxes = np.concatenate([LARGE_BOXES * np.float32([width, height, width, height]), propose(frame)])
    if not len(boxes):
        boxes = LARGE_BOXES * np.float32([width, height, width, height])
    boxes = np.resize(boxes, (crops, 4))  # the first `crops` boxes, repeated where the frame has fewer
    return with_mirror(crop_boxes(frame, boxes))


def model_inputs(frames: list[np.ndarray], crops: int, regions: int) -> dict[str, tuple[str, list[np.ndarray]]]:
    """Per model: (models subfolder and file stem, one input per frame with its batch dimension)."""
    propose = make_proposals("boundieboxies")
    windows = grid_windows(frames[0].shape)
    height, width = frames[0].shape[:2]
    naming = np.float32([[0.2, 0.2, 0.6, 0.7], [0.5, 0.3, 0.9, 0.9], [0.1, 0.5, 0.4, 0.95]] * regions)[:regions]
    naming = naming * np.float32([width, height, width, height])
    return {
        "fcn": ("fcn/fcn", [shrink(frame, WORKING_WIDTH) for frame in frames]),
        "objectness": ("objectness/fcn", [shrink(frame, OBJECTNESS_WIDTH) for frame in frames]),
        "windows": ("boxes/boxes", [with_mirror(crop_boxes(frame, windows)) for frame in frames]),
        "naming": ("boxes/boxes", [with_mirror(crop_boxes(frame, naming)) for frame in frames]),
        "boxes": ("boxes/boxes", [box_path_crops(frame, crops, propose) for frame in frames]),
    }


# ------------------------------------------------------------------ models

def fixed_batch_constants(model) -> list[tuple[int, int]]:
    """(operator index, tensor index) of each constant batch size 1 packed into a TRANSPOSE_CONV's
    output shape: what pins the shipped FCNs to a batch of one."""
    from ai_edge_litert import schema_py_generated as schema

    graph = model.subgraphs[0]
    producer = {int(output): i for i, op in enumerate(graph.operators) for output in op.outputs}

    def builtin(op):
        code = model.operatorCodes[op.opcodeIndex]
        return max(code.builtinCode, code.deprecatedBuiltinCode)

    found = []
    for op in graph.operators:
        if builtin(op) != schema.BuiltinOperator.TRANSPOSE_CONV:
            continue
        shape_op = producer.get(int(op.inputs[0]))
        if shape_op is None or builtin(graph.operators[shape_op]) != schema.BuiltinOperator.PACK:
            continue
        first = int(graph.operators[shape_op].inputs[0])
        data = model.buffers[graph.tensors[first].buffer].data
        if data is not None and len(data) == 4 and np.frombuffer(bytes(bytearray(data)), np.int32)[0] == 1:
            found.append((shape_op, first))
    return found


def with_batch(model_bytes: bytes, batch: int) -> bytes | None:
    """The model with every constant batch 1 of a TRANSPOSE_CONV's output shape set to `batch` (a new
    constant tensor each, so nothing else changes); None when there is none to patch."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(model_bytes, 0)
    found = fixed_batch_constants(model)
    if not found:
        return None
    graph = model.subgraphs[0]
    for op_index, tensor_index in found:
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(np.int32(batch).tobytes(), np.uint8).copy()
        model.buffers.append(buffer)
        tensor = copy.deepcopy(graph.tensors[tensor_index])
        tensor.buffer = len(model.buffers) - 1
        tensor.name = (tensor.name or b"") + f"_batch{batch}".encode()
        graph.tensors.append(tensor)
        inputs = list(graph.operators[op_index].inputs)
        inputs[0] = len(graph.tensors) - 1
        graph.operators[op_index].inputs = inputs
    builder = flatbuffers.Builder(len(model_bytes) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


class Runner:
    """One interpreter with its input resized to `shape` once."""

    def __init__(self, interpreter, shape: tuple[int, ...]):
        self.interpreter = interpreter
        self.input = interpreter.get_input_details()[0]
        self.output = interpreter.get_output_details()[0]
        with quiet_stderr():
            interpreter.resize_tensor_input(self.input["index"], list(shape))
            interpreter.allocate_tensors()
        self.dtype = self.input["dtype"]

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self.input["index"], batch.astype(self.dtype, copy=False))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])


def open_interpreter(path: Path, threads: int, content: bytes | None = None):
    if content is None:
        with quiet_stderr():
            return load_interpreter(path, threads)
    from ai_edge_litert.interpreter import Interpreter
    with quiet_stderr():
        return Interpreter(model_content=content, num_threads=threads)


def try_plain_resize(path: Path, threads: int, shape: tuple[int, ...], sample: np.ndarray) -> str | None:
    """None when the shipped file runs at this batch shape, else why not."""
    try:
        runner = Runner(open_interpreter(path, threads), shape)
        runner(sample)
        return None
    except (RuntimeError, ValueError) as error:
        return " ".join(str(error).split())


# ------------------------------------------------------------------ timing

def time_seq(runner: Runner, inputs: list[np.ndarray]) -> tuple[float, list[np.ndarray]]:
    start = time.perf_counter()
    outputs = [runner(one) for one in inputs]
    return time.perf_counter() - start, outputs


def time_batch(runner: Runner, inputs: list[np.ndarray]) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    output = runner(np.concatenate(inputs))
    return time.perf_counter() - start, output


def cpu_summary() -> dict:
    info = {"model_name": platform.processor(), "cores": os.cpu_count(), "flags": []}
    wanted = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
              "avx512_bf16", "avx_vnni", "amx_int8", "amx_bf16"]
    try:
        text = Path("/proc/cpuinfo").read_text()
        for line in text.splitlines():
            if line.startswith("model name"):
                info["model_name"] = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                present = set(line.split(":", 1)[1].split())
                info["flags"] = [flag for flag in wanted if flag in present]
                break
        info["load_average"] = [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, default=SAMPLE_VIDEO, help="video the frames come from (default: the sample)")
    parser.add_argument("--batches", default="2,4", help="batch sizes N to try (default 2,4)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up calls per interpreter (default 3)")
    parser.add_argument("--crops", type=int, default=128, help="box path crops a frame, before mirroring (default 128)")
    parser.add_argument("--regions", type=int, default=2, help="FCN path regions named a frame (default 2)")
    parser.add_argument("--variants", default="int8,float", help="model variants (default int8,float)")
    parser.add_argument("--models", default="fcn,objectness,windows,naming,boxes", help="which models (default all)")
    parser.add_argument("--threads", type=int, default=None, help="LiteRT threads (default os.cpu_count(), as the tool)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    args = parser.parse_args(argv)

    batches = sorted({int(n) for n in args.batches.split(",")})
    threads = args.threads or os.cpu_count()
    frames = read_frames(args.input, max(batches), spacing=25)
    inputs = {name: item for name, item in model_inputs(frames, args.crops, args.regions).items()
              if name in args.models.split(",")}
    variants = [v for v in args.variants.split(",") if v in VARIANTS]

    # open every interpreter: per (model, variant) one for a single frame and one per batch size
    cases, notes = {}, []
    for name, (stem, per_frame) in inputs.items():
        for variant in variants:
            path = MODELS_DIR / VARIANTS[variant].format(stem)
            if not path.is_file():
                notes.append(f"{name} {variant}: {path.name} does not ship, skipped")
                continue
            single_shape = per_frame[0].shape
            case = {"path": str(path.relative_to(MODELS_DIR.parent)), "rows_per_frame": int(single_shape[0]),
                    "input_per_frame": list(single_shape), "single": Runner(open_interpreter(path, threads), single_shape),
                    "batched": {}, "resize": {}}
            for n in batches:
                shape = (n * single_shape[0],) + tuple(single_shape[1:])
                sample = np.concatenate(per_frame[:n])
                why = try_plain_resize(path, threads, shape, sample)
                if why is None:
                    case["resize"][n] = "shipped file resized"
                    case["batched"][n] = Runner(open_interpreter(path, threads), shape)
                    continue
                patched = with_batch(path.read_bytes(), n)
                if patched is None:
                    case["resize"][n] = f"cannot resize to batch {n}: {why}"
                    notes.append(f"{name} {variant} N={n}: {case['resize'][n]}")
                    continue
                case["resize"][n] = (f"shipped file fails at batch {n} ({why}); timed on a copy patched in memory: "
                                     f"the batch-1 constant of each TRANSPOSE_CONV output shape set to {n}")
                case["batched"][n] = Runner(open_interpreter(path, threads, patched), shape)
            cases[(name, variant)] = case
    for (name, variant), case in cases.items():
        for n, how in case["resize"].items():
            if how != "shipped file resized":
                print(f"# {name} {variant} N={n}: {how}", file=sys.stderr)

    # warm-up, and the check that a batch gives the per-frame outputs
    for (name, _variant), case in cases.items():
        per_frame = inputs[name][1]
        for _ in range(args.warmup):
            case["single"](per_frame[0])
            for n, runner in case["batched"].items():
                runner(np.concatenate(per_frame[:n]))
        case["max_abs_diff"] = {}
        for n, runner in case["batched"].items():
            _, seq_out = time_seq(case["single"], per_frame[:n])
            _, batch_out = time_batch(runner, per_frame[:n])
            case["max_abs_diff"][n] = float(np.max(np.abs(np.concatenate(seq_out).astype(np.float64)
                                                         - batch_out.astype(np.float64))))

    # rounds: each model variant once a round (variants in a shuffled order); for a variant, its N
    # frames one call each and one call per batch size back to back, in a shuffled order, so seq and
    # batch of a round see the same load
    rng = random.Random(args.seed)
    timings = {(key, n, how): [] for key, case in cases.items() for n in case["batched"] for how in ("seq", "batch")}
    load_start = cpu_summary().get("load_average")
    started = time.perf_counter()
    for _ in range(args.rounds):
        keys = list(cases)
        rng.shuffle(keys)
        for key in keys:
            case, per_frame = cases[key], inputs[key[0]][1]
            jobs = ["seq"] + list(case["batched"])
            rng.shuffle(jobs)
            for job in jobs:
                if job == "seq":  # one call per frame, each timed: seq for N is the mean of the first N
                    singles = []
                    for one in per_frame[:max(case["batched"])]:
                        seconds, _ = time_seq(case["single"], [one])
                        singles.append(seconds * 1000)
                    for n in case["batched"]:
                        timings[(key, n, "seq")].append(sum(singles[:n]) / n)
                else:
                    seconds, _ = time_batch(case["batched"][job], per_frame[:job])
                    timings[(key, job, "batch")].append(seconds * 1000 / job)  # ms per frame
    measured_s = time.perf_counter() - started

    rows = []
    for (name, variant), case in cases.items():
        for n in case["batched"]:
            seq, batch = timings[((name, variant), n, "seq")], timings[((name, variant), n, "batch")]
            ratios = [b / s for s, b in zip(seq, batch)]
            rows.append({"model": name, "variant": variant, "n": n, "path": case["path"],
                         "input_per_frame": case["input_per_frame"], "rows_per_frame": case["rows_per_frame"],
                         "seq_ms_per_frame": statistics.median(seq), "batch_ms_per_frame": statistics.median(batch),
                         "batch_over_seq": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                         "seq_best_ms": min(seq), "batch_best_ms": min(batch), "best_batch_over_best_seq": min(batch) / min(seq),
                         "max_abs_diff": case["max_abs_diff"][n], "how": case["resize"][n],
                         "seq_ms_rounds": seq, "batch_ms_rounds": batch})

    print(f"threads {threads}, {args.rounds} rounds, {measured_s:.0f} s measuring, load average {load_start}; "
          f"ms per frame: median over rounds, and best round; ratio = batch/seq within a round (median [min, max]); "
          f"best = best batch / best seq; diff = max |batch - per-frame| of the raw output")
    header = (f"{'model':<12}{'variant':<8}{'input/frame':<14}{'N':>2}{'seq':>8}{'batch':>8}{'ratio':>7}  {'[min, max]':<13}"
              f"{'seq best':>9}{'batch best':>11}{'best':>6}{'diff':>6}")
    print(header)
    print("-" * len(header))
    for row in rows:
        shape = "x".join(str(side) for side in row["input_per_frame"])
        patched = "*" if "patched" in row["how"] else ""
        print(f"{row['model'] + patched:<12}{row['variant']:<8}{shape:<14}{row['n']:>2}{row['seq_ms_per_frame']:>8.1f}"
              f"{row['batch_ms_per_frame']:>8.1f}{row['batch_over_seq']:>7.2f}  "
              + f"[{row['ratio_min']:.2f}, {row['ratio_max']:.2f}]".ljust(13)
              + f"{row['seq_best_ms']:>9.1f}{row['batch_best_ms']:>11.1f}{row['best_batch_over_best_seq']:>6.2f}"
              f"{row['max_abs_diff']:>6.2g}")
    if any("patched" in row["how"] for row in rows):
        print("* the shipped FCN fails at batch N (its TRANSPOSE_CONV output shape packs a constant batch 1): "
              "batch timed on a copy patched in memory")
    for note in notes:
        print("note:", note)

    # the FCN path and the box path per frame: the sum of their models
    paths = {"fcn path": ("fcn", "objectness", "windows", "naming"), "box path": ("boxes",)}
    totals = []
    for path_name, models in paths.items():
        for variant in variants:
            for n in batches:
                picked = [r for r in rows if r["model"] in models and r["variant"] == variant and r["n"] == n]
                if len(picked) != len(models):
                    continue
                # sum per round, then the median: the models share each round's load
                seq = [sum(values) for values in zip(*(r["seq_ms_rounds"] for r in picked))]
                batch = [sum(values) for values in zip(*(r["batch_ms_rounds"] for r in picked))]
                best_seq, best_batch = sum(r["seq_best_ms"] for r in picked), sum(r["batch_best_ms"] for r in picked)
                totals.append({"path": path_name, "variant": variant, "n": n, "seq_ms_per_frame": statistics.median(seq),
                               "batch_ms_per_frame": statistics.median(batch),
                               "batch_over_seq": statistics.median(b / s for s, b in zip(seq, batch)),
                               "seq_best_ms": best_seq, "batch_best_ms": best_batch,
                               "best_batch_over_best_seq": best_batch / best_seq})
    if totals:
        print("\nper path, its models' inference only (medians of per-round sums; best: sums of each model's best):")
        for total in totals:
            print(f"  {total['path']:<9}{total['variant']:<6}N={total['n']}  seq {total['seq_ms_per_frame']:6.1f} ms  "
                  f"batch {total['batch_ms_per_frame']:6.1f} ms  ratio {total['batch_over_seq']:.2f}   "
                  f"best: seq {total['seq_best_ms']:6.1f} ms  batch {total['batch_best_ms']:6.1f} ms  "
                  f"ratio {total['best_batch_over_best_seq']:.2f}")

    if args.json:
        report = {"machine": cpu_summary() | {"load_average_start": load_start}, "threads": threads,
                  "rounds": args.rounds, "warmup": args.warmup, "batches": batches, "crops": args.crops,
                  "regions": args.regions, "frame_size": list(FRAME_SIZE), "input": str(args.input),
                  "measured_s": measured_s, "rows": rows, "paths": totals, "notes": notes}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
