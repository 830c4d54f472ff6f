"""The bench's parts 4 and 5: the same model on each runtime, and how far the paths are from this CPU's limit.

- CPU features: recognition.variants.cpu_features (the bench reports them beside these parts).
- Multiply-adds of a LiteRT model for an input shape, read from the .tflite itself (convolutions,
  transposed convolutions, fully connected layers): the runtime never imports TensorFlow.
- This CPU's peak, measured in the same run: a large float32 matrix product (numpy's BLAS) and an
  int8 and a float32 fully connected layer run by LiteRT (a one-layer model built here in memory).
- The class FCN on LiteRT int8 and float, TensorFlow (through the caller's `time_tensorflow`: only
  training code imports it), OpenCV DNN where it reads the model; ONNX Runtime is not measured.
"""

from __future__ import annotations

import functools
import os
import re
import time
from pathlib import Path

import numpy as np

from streamsee.recognition.fcn import DEFAULT_FCN
from streamsee.recognition.runtime import LiteRTModel, quiet_stderr

FCN_FLOAT = DEFAULT_FCN.with_name("fcn_float.tflite")
FCN_WEIGHTS = DEFAULT_FCN.with_name("fcn.weights.h5")  # the Keras weights the .tflite files were exported from


@functools.lru_cache(maxsize=64)
def _macs_per_item(model_path: str, shape: tuple[int, ...]) -> int:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # without the XNNPACK delegate, every tensor keeps its shape and the ops stay visible
    interpreter = Interpreter(model_path=model_path,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    entry = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(entry["index"], (1, *shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(entry["index"], np.zeros((1, *shape), entry["dtype"]))
    interpreter.invoke()  # shapes computed at run time (the transposed convolutions') are known after it
    shapes = {tensor["index"]: tensor["shape"] for tensor in interpreter.get_tensor_details()}
    total = 0
    for op in interpreter._get_ops_details():
        inputs = [shapes[i] for i in op["inputs"] if i >= 0]
        output = shapes[op["outputs"][0]]
        if op["op_name"] == "CONV_2D":  # weights (out, kh, kw, in)
            total += int(np.prod(output)) * int(np.prod(inputs[1][1:]))
        elif op["op_name"] == "DEPTHWISE_CONV_2D":  # weights (1, kh, kw, out)
            total += int(np.prod(output)) * int(np.prod(inputs[1][1:3]))
        elif op["op_name"] == "TRANSPOSE_CONV":  # inputs: output shape, weights (out, kh, kw, in), input
            total += int(np.prod(inputs[2])) * int(np.prod(inputs[1][:3]))
        elif op["op_name"] == "FULLY_CONNECTED":  # weights (out, in)
            total += int(np.prod(output[:-1])) * int(np.prod(inputs[1]))
    return total


def model_macs(model_path: os.PathLike | str, shape: tuple[int, ...]) -> int:
    """Multiply-adds of one run of a LiteRT model on an input batch of this shape (N, ...)."""
    return shape[0] * _macs_per_item(str(Path(model_path).resolve()), tuple(int(x) for x in shape[1:]))


def fully_connected_model(rows: int, inputs: int, outputs: int, int8: bool) -> bytes:
    """A LiteRT model of one fully connected layer (rows x inputs) @ (inputs x outputs), int8 or float32."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    kind = schema.TensorType.INT8 if int8 else schema.TensorType.FLOAT32
    rng = np.random.default_rng(0)
    weights = (rng.integers(-127, 128, (outputs, inputs), dtype=np.int8) if int8
               else rng.standard_normal((outputs, inputs), dtype=np.float32))
    bias = np.zeros(outputs, np.int32 if int8 else np.float32)

    def buffer(data: np.ndarray | None = None):
        made = schema.BufferT()
        made.data = None if data is None else np.frombuffer(data.tobytes(), np.uint8)
        return made

    def tensor(name: str, shape: tuple[int, ...], tensor_type: int, index: int, scale: float):
        made = schema.TensorT()
        made.name, made.shape, made.type, made.buffer = name, list(shape), tensor_type, index
        if int8:
            made.quantization = schema.QuantizationParametersT()
            made.quantization.scale, made.quantization.zeroPoint = [scale], [0]
        return made

    graph = schema.SubGraphT()
    graph.tensors = [tensor("x", (rows, inputs), kind, 1, 0.05), tensor("w", (outputs, inputs), kind, 2, 0.01),
                     tensor("b", (outputs,), schema.TensorType.INT32 if int8 else kind, 3, 0.0005),
                     tensor("y", (rows, outputs), kind, 4, 1.0)]
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, 2], [3]
    op.builtinOptionsType = schema.BuiltinOptions.FullyConnectedOptions
    op.builtinOptions = schema.FullyConnectedOptionsT()
    graph.inputs, graph.outputs, graph.operators = [0], [3], [op]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.FULLY_CONNECTED
    code.version = 4 if int8 else 1
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [graph]
    model.buffers = [buffer(), buffer(), buffer(weights), buffer(bias), buffer()]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def best_rate(function, macs: int, repeats: int) -> float:
    """GMAC/s of the fastest of `repeats` calls (after one warm-up call)."""
    function()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return round(macs / best / 1e9, 2)


def measure_peak(matmul_side: int = 2048, fc_side: int = 1024, repeats: int = 5) -> dict:
    """This CPU's multiply-add rate now, GMAC/s: float32 matmul (numpy) and int8 / float32 fully
    connected layers (LiteRT, all cores)."""
    from ai_edge_litert.interpreter import Interpreter

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((matmul_side, matmul_side), dtype=np.float32) for _ in range(2))
    peak = {"float32_numpy_gmacs": best_rate(lambda: a @ b, matmul_side ** 3, repeats),
            "matmul_side": matmul_side, "fc_side": fc_side}
    for name, int8 in (("int8_litert_gmacs", True), ("float32_litert_gmacs", False)):
        interpreter = Interpreter(model_content=fully_connected_model(fc_side, fc_side, fc_side, int8),
                                  num_threads=os.cpu_count())
        with quiet_stderr():
            interpreter.allocate_tensors()
        entry = interpreter.get_input_details()[0]
        interpreter.set_tensor(entry["index"], np.ones((fc_side, fc_side), entry["dtype"]))
        peak[name] = best_rate(interpreter.invoke, fc_side ** 3, repeats)
    peak["float32_gmacs"] = max(peak["float32_numpy_gmacs"], peak["float32_litert_gmacs"])
    return peak


def best_peak(first: dict, second: dict) -> dict:
    """The higher of two peak measurements, rate by rate, with both kept."""
    rates = [key for key in first if key.endswith("_gmacs")]
    return {**first, **{key: max(first[key], second[key]) for key in rates},
            "measured": [{key: first[key] for key in rates}, {key: second[key] for key in rates}]}


def timed_runs(run, inputs: list[np.ndarray], repeats: int) -> tuple[list[float], list[np.ndarray]]:
    """Milliseconds per call of run(x) over `repeats` passes (after a warm-up call), and the last outputs."""
    run(inputs[0])
    times, outputs = [], []
    for _ in range(repeats):
        outputs = []
        for x in inputs:
            started = time.perf_counter()
            outputs.append(np.asarray(run(x)))
            times.append((time.perf_counter() - started) * 1000)
    return times, outputs


def agreement(outputs: list[np.ndarray], reference: list[np.ndarray]) -> float:
    """Share of map cells whose likeliest label is the reference's."""
    same = [np.mean(np.argmax(a, -1).ravel() == np.argmax(b, -1).ravel()) for a, b in zip(outputs, reference)]
    return round(float(np.mean(same)), 4)


def opencv_dnn(model_path: Path):
    """A run(x) of OpenCV DNN on the .tflite, or the reason it cannot read it."""
    import cv2

    try:
        with quiet_stderr():
            net = cv2.dnn.readNet(str(model_path))
    except cv2.error as error:
        reason = re.sub(r"^.*error: \(-?\d+:[^)]*\)\s*|\s+in function .*$", "", str(error).strip().splitlines()[-1])
        return f"OpenCV DNN cannot read {model_path.name}: {reason}"

    def run(x: np.ndarray) -> np.ndarray:
        net.setInput(x.astype(np.float32))
        return net.forward()
    return run


def bench_runtimes(inputs: list[np.ndarray], repeats: int, summary, time_tensorflow=None) -> dict:
    """The class FCN on each runtime, on the same inputs (frames shrunk to its working size): times
    (`summary` of the milliseconds) and the share of cells labelled as LiteRT float labels them."""
    report, outputs = {"input_shape": list(inputs[0].shape)}, {}
    for name, path in (("litert_float", FCN_FLOAT), ("litert_int8", DEFAULT_FCN)):
        with LiteRTModel(path) as model:
            times, outputs[name] = timed_runs(model.run, inputs, repeats)
        report[name] = {**summary(times), "model": path.name}
    if time_tensorflow is None:
        report["tensorflow"] = {"not_measured": "no TensorFlow runner given"}
    else:
        try:
            times, outputs["tensorflow"] = time_tensorflow(FCN_WEIGHTS, inputs, repeats)
            report["tensorflow"] = {**summary(times), "model": FCN_WEIGHTS.name}
        except ModuleNotFoundError as error:
            report["tensorflow"] = {"not_measured": f"TensorFlow is not installed ({error.name}): "
                                                    "pip install 'streamsee[train]'"}
    run = opencv_dnn(FCN_FLOAT)
    if isinstance(run, str):
        report["opencv_dnn"] = {"not_measured": run}
    else:
        times, outputs["opencv_dnn"] = timed_runs(run, inputs, repeats)
        report["opencv_dnn"] = {**summary(times), "model": FCN_FLOAT.name}
    report["onnxruntime"] = {"not_measured": "no ONNX export of the models ships (making one needs tf2onnx)"}
    for name, out in outputs.items():
        report[name]["agreement_with_float"] = agreement(out, outputs["litert_float"])
    return report


def distance_to_limit(peak: dict, runtimes: dict, paths: dict) -> dict:
    """Multiply-adds per second of the class FCN alone (each LiteRT model) and of each path per frame
    (at each size), as a percentage of the matching peak: int8 models against the int8 peak."""
    shape = tuple(runtimes["input_shape"])
    limit = {"peak": peak, "class_fcn": {}, "paths": {}}
    for name, path, peak_key in (("litert_int8", DEFAULT_FCN, "int8_litert_gmacs"),
                                 ("litert_float", FCN_FLOAT, "float32_gmacs")):
        macs = model_macs(path, shape)
        limit["class_fcn"][name] = percent_of_peak(macs, runtimes[name]["p50_ms"], peak[peak_key])
    for size, measured in paths.items():
        limit["paths"][size] = {kind: percent_of_peak(measured[kind]["macs_per_frame"], measured[kind]["total"]["p50_ms"],
                                                      peak["int8_litert_gmacs"]) for kind in ("fcn", "boxes")}
    return limit


def percent_of_peak(macs: float, milliseconds: float, peak_gmacs: float) -> dict:
    rate = macs / (milliseconds / 1000) / 1e9 if milliseconds > 0 else 0.0
    return {"macs": int(macs), "ms": milliseconds, "gmacs": round(rate, 3),
            "percent_of_peak": round(100 * rate / peak_gmacs, 2) if peak_gmacs > 0 else None}
