"""Which export of each shipped model runs on this machine, int8 or float, and on how many threads.

Every shipped model comes as `*_int8.tflite` and `*_float.tflite`, equally accurate (the model cards).
Which is faster depends on the CPU: int8 is several times faster where it has int8 dot products
(AVX-512 VNNI, AVX-VNNI, AMX), and slower than float on AVX2-only CPUs (docs/benchmarks.md). With
runtime "auto" (the default) each model's exports are timed on this CPU, on one core and on all, a few
seconds once, and the timings are kept in a small cache (`cache_file()`), keyed by the CPU, the LiteRT
version and the model files, so later starts only read them. The choice: float on every core where it
is faster than int8 by more than FLOAT_MARGIN, else int8 (the export the thresholds were calibrated on;
a near tie is timing noise on a busy machine). One core is timed for the record only: alone it can look
faster while another program keeps the second core busy, which says nothing about later runs.

    >>> choice = choose(DEFAULT_FCN, (1, 120, 160, 3))        # Choice(path=.../fcn_float.tflite, threads=2, ...)
    >>> choose(DEFAULT_FCN, (1, 120, 160, 3), runtime="int8")  # that export, on every core, nothing timed
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from streamsee.recognition.runtime import load_interpreter, quiet_stderr

RUNTIMES = ("auto", "int8", "float")
# The SIMD flags that decide int8 and float speed, as /proc/cpuinfo names them.
FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
         "avx_vnni", "amx_int8", "amx_bf16")
FLOAT_MARGIN = 0.10  # float is chosen where it takes at most 90 % of int8's time
ROUNDS = 5  # timed runs per candidate, interleaved, after WARM_UP each; the median decides
WARM_UP = 1


@dataclass(frozen=True)
class Choice:
    """The model file to run and its thread count; `timings`: median ms per candidate ("int8/2"), where timed."""

    path: Path
    threads: int
    timings: dict = field(default_factory=dict)


def cpu_features(cpuinfo: os.PathLike | str = "/proc/cpuinfo") -> dict:
    """Model name, cores and the SIMD flags of this CPU (those of FLAGS it has), the load when asked."""
    text = Path(cpuinfo).read_text() if Path(cpuinfo).is_file() else ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    return {"model": fields.get("model name", "unknown"), "logical_cores": os.cpu_count(),
            "usable_cores": usable_cores(),
            "physical_cores_per_socket": int(fields["cpu cores"]) if fields.get("cpu cores", "").isdigit() else None,
            "flags": [flag for flag in FLAGS if flag in flags],
            "int8_dot_product": bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"}),
            "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None}


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cache_file() -> Path:
    """$STREAMSEE_CACHE_DIR/runtime.json, else $XDG_CACHE_HOME/streamsee/runtime.json (~/.cache by default)."""
    folder = os.environ.get("STREAMSEE_CACHE_DIR")
    if not folder:
        folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "streamsee"
    return Path(folder) / "runtime.json"


def exports(int8_path: os.PathLike | str) -> dict[str, Path]:
    """A shipped model's exports by runtime: {"int8": ..., "float": ...} (float only where the file exists)."""
    int8_path = Path(int8_path)
    if not int8_path.name.endswith("_int8.tflite"):
        raise ValueError(f"not an int8 export (NAME_int8.tflite): {str(int8_path)!r}")
    float_path = int8_path.with_name(int8_path.name.replace("_int8.tflite", "_float.tflite"))
    return {"int8": int8_path, **({"float": float_path} if float_path.is_file() else {})}


def thread_counts() -> list[int]:
    return sorted({1, min(2, usable_cores()), usable_cores()})


def cache_key(files: dict[str, Path], shape: tuple[int, ...]) -> str:
    """What a timing depends on: the CPU, the LiteRT version, the model files' contents, the input shape."""
    cpu = cpu_features()
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(files[name].read_bytes())
    try:
        litert = metadata.version("ai-edge-litert")
    except metadata.PackageNotFoundError:
        litert = "unknown"
    return "|".join([cpu["model"], " ".join(cpu["flags"]), str(usable_cores()), f"litert {litert}",
                     digest.hexdigest()[:16], "x".join(map(str, shape))])


def time_candidates(files: dict[str, Path], shape: tuple[int, ...], threads: list[int]) -> dict[str, float]:
    """Median ms of one inference on a zero input of `shape`, per "runtime/threads", runs interleaved."""
    interpreters = {}
    for runtime, path in files.items():
        for count in threads:
            interpreter = load_interpreter(path, count)
            index = interpreter.get_input_details()[0]["index"]
            interpreter.resize_tensor_input(index, shape)
            with quiet_stderr():
                interpreter.allocate_tensors()
            interpreter.set_tensor(index, np.zeros(shape, interpreter.get_input_details()[0]["dtype"]))
            for _ in range(WARM_UP):
                interpreter.invoke()
            interpreters[f"{runtime}/{count}"] = interpreter
    times: dict[str, list[float]] = {name: [] for name in interpreters}
    for _ in range(ROUNDS):
        for name, interpreter in interpreters.items():
            started = time.perf_counter()
            interpreter.invoke()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: round(statistics.median(values), 3) for name, values in times.items()}


def choose(int8_path: os.PathLike | str, shape: tuple[int, ...], runtime: str = "auto",
           cache: Path | None = None) -> Choice:
    """The export of the model `int8_path` (NAME_int8.tflite) to run for inputs of `shape`, and its threads.

    runtime "int8" or "float": that export. "auto": the faster on this machine (module docstring), timed
    once and then read from `cache` (cache_file() by default); a cache that cannot be read or written is
    timed again, never an error. Always on every usable core."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    files = exports(int8_path)
    if runtime != "auto":
        if runtime not in files:
            raise FileNotFoundError(f"no {runtime} export beside {str(files['int8'])!r}")
        return Choice(files[runtime], usable_cores())
    cache = cache_file() if cache is None else cache
    key = cache_key(files, tuple(shape))
    stored = read_cache(cache)
    timings = stored.get(key)
    if not (isinstance(timings, dict) and timings and all(isinstance(v, (int, float)) for v in timings.values())
            and all(name.split("/")[0] in files for name in timings)):
        if sys.stderr.isatty():  # a few seconds, once per machine: said where a person watches
            print(f"streamsee: timing {files['int8'].parent.name}'s exports on this CPU (once; kept in {cache})", file=sys.stderr)
        timings = time_candidates(files, tuple(shape), thread_counts())
        write_cache(cache, {**read_cache(cache), key: timings})
    return Choice(files[pick(timings)], usable_cores(), timings)


def pick(timings: dict[str, float]) -> str:
    """"float" where it is faster than int8 on every core by more than FLOAT_MARGIN, else "int8"."""
    cores = max(int(name.split("/")[1]) for name in timings)
    int8, floating = timings.get(f"int8/{cores}"), timings.get(f"float/{cores}")
    return "float" if floating is not None and int8 is not None and floating < int8 * (1 - FLOAT_MARGIN) else "int8"


def read_cache(cache: Path) -> dict:
    try:
        stored = json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def write_cache(cache: Path, entries: dict) -> None:
    """Replace the cache atomically (another process starting at the same time reads the old one or this)."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=cache.parent, prefix=".runtime-", suffix=".json", delete=False) as out:
            json.dump(entries, out, indent=1)
        os.replace(out.name, cache)
    except OSError as error:
        print(f"streamsee: could not keep the runtime choice in {str(cache)!r} ({error.strerror or error}); "
              "it is timed again next start", file=sys.stderr)
