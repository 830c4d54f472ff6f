"""`streamsee bench`: the two approaches and their parts measured side by side on this machine.

On the same real frames (decoded from a video: the bundled sample unless --input), in one run, with
warm-up, medians and p95:
1. the FCN path against the box path per frame at each size, stage by stage (bench_parts.bench_paths);
2. proposals: boundieboxies against dlib, time and object recall, and as objects per frame grow;
3. every 32x32 window classified in batches against one pass of the class FCN;
4. the class FCN on each runtime (LiteRT float and int8, TensorFlow, OpenCV DNN) (bench_limit);
5. the paths' multiply-adds per second against this CPU's peak, measured in the same run;
6. the whole file job against the bare path, per mode, and live latency with a 30 fps source;
7. 1, 2 and 4 sources at once, with and without a browser client (bench_sources; alone: --only sources).
The report (JSON) carries everything measured, with `ratios` and `live` for quick reading; speed
targets are checked here, never in timed unit tests.
"""

from __future__ import annotations

import importlib.util
import json
import time
from dataclasses import dataclass
from pathlib import Path

SIZES = ((320, 240), (640, 480), (1280, 720))
RATIO_SIZE = "640x480"  # the size the FCN / box ratio is read at
SCALING_COUNTS = (1, 10, 50, 100, 250, 500, 750)


@dataclass(frozen=True)
class BenchSettings:
    """What a bench run measures on; the defaults are `streamsee bench`'s."""

    input: str | None = None  # a video file; None: the bundled sample
    frames: int = 20  # real frames, per size and per mode
    sizes: tuple[tuple[int, int], ...] = SIZES
    repeats: int = 1  # passes over the frames
    data: str = "../shared/data/cifar10-jpeg.tar.gz"
    backgrounds: str = "../shared/media/negatives"
    scenes: int = 40  # composed scenes for the proposals' time and recall
    scaling_counts: tuple[int, ...] = SCALING_COUNTS
    scaling_frames: int = 3  # composed frames per object count
    windows_width: int | None = None  # the class FCN's working width for part 3 (None: the shipped one)
    matmul_side: int = 2048
    fc_side: int = 1024
    pipeline_frames: int = 90  # part 6: the segment mode's file job and bare path, frames a round
    pipeline_rounds: int = 3  # part 6: rounds of each for the segment mode, taking turns (medians); the box path: 1
    live_frames: int = 150
    live_fps: int = 30
    sources: tuple[int, ...] = (1, 2, 4)  # sources at once, part 7
    source_frames: int = 40  # frames of each


def parse_sizes(text: str) -> tuple[tuple[int, int], ...]:
    """'320x240,640x480' -> ((320, 240), (640, 480)); anything else is a ValueError quoting it."""
    sizes = []
    for part in text.split(","):
        width, x, height = part.strip().lower().partition("x")
        if not (x and width.isdigit() and height.isdigit() and 32 <= int(width) <= 4096 and 32 <= int(height) <= 4096):
            raise ValueError(f"--sizes must be WIDTHxHEIGHT[,WIDTHxHEIGHT...], sides 32 to 4096 px, got {text!r}")
        sizes.append((int(width), int(height)))
    return tuple(dict.fromkeys(sizes))


def parse_count(name: str, text: str, least: int = 1) -> int:
    if not text.strip().isdigit() or int(text) < least:
        raise ValueError(f"{name} must be a whole number of at least {least}, got {text!r}")
    return int(text)


def size_key(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def ratios(report: dict) -> dict:
    """The issue's four ratios, each the quotient of two figures stored in the report."""
    paths = report["paths"].get(RATIO_SIZE)
    return {"fcn_over_boxes_640x480": None if paths is None else paths["fcn_over_boxes"],
            "dlib_over_boundieboxies": report["proposals"]["dlib_over_boundieboxies"],
            "windows_over_fcn": report["windows"]["windows_over_fcn"],
            "file_over_bare_segment": report["pipeline"]["segment"]["file_over_bare"]}


def run_bench(settings: BenchSettings, progress=None, time_tensorflow=None) -> dict:
    """Every part, in one process; `progress(line)` hears where it is; `time_tensorflow` (training's
    tensorflow_bench.time_fcn) times the class FCN on TensorFlow."""
    import numpy as np

    from streamsee.core.config import RunConfig
    from streamsee.datasets.cifar10 import load_cifar10
    from streamsee.datasets.scenes import background_crop, compose_set, folder_backgrounds
    from streamsee.evaluation import bench_limit, bench_parts
    from streamsee.live.analyser import choose_models
    from streamsee.recognition.fcn import WORKING_WIDTH, ScoreMap
    from streamsee.recognition.variants import cpu_features

    say = progress or (lambda line: None)
    started = time.perf_counter()
    report: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": cpu_features()}
    decoded = bench_parts.decode_frames(settings.input, max(settings.frames, settings.pipeline_frames))  # once for all parts
    frames = decoded[:settings.frames]
    say("0/7 this CPU's peak multiply-add rate (again in 5/7)")
    first_peak = bench_limit.measure_peak(settings.matmul_side, settings.fc_side)
    report["settings"] = {"input": settings.input or "bundled sample", "frames": len(frames),
                          "native_size": size_key(frames[0].shape[1::-1]), "sizes": [size_key(s) for s in settings.sizes],
                          "repeats": settings.repeats, "scenes": settings.scenes,
                          "scaling_counts": list(settings.scaling_counts), "scaling_frames": settings.scaling_frames}
    report["paths"] = {}
    models = choose_models("compare")  # the exports the main job runs here (int8 or float: timed once, cached)
    report["exports"] = {name: {"file": f"{choice.path.parent.name}/{choice.path.name}", "threads": choice.threads,
                                "timings_ms": choice.timings} for name, choice in models.items()}
    for size in settings.sizes:
        say(f"1/7 FCN path and box path at {size_key(size)}, {len(frames)} frames")
        report["paths"][size_key(size)] = bench_parts.bench_paths(bench_parts.resized(frames, size), settings.repeats, models)

    say("2/7 proposals: real frames, composed scenes, objects per frame")
    test = load_cifar10(settings.data, "test")
    photos = folder_backgrounds(settings.backgrounds)
    rng = np.random.default_rng(2)
    scenes = compose_set(rng, photos, test.images, test.labels, settings.scenes)
    frames_640 = bench_parts.resized(frames, (640, 480))
    report["proposals"] = bench_parts.bench_proposals(frames_640, scenes, settings.repeats)
    backgrounds = [background_crop(rng, photos, (480, 640), jitter=False) for _ in range(settings.scaling_frames)]
    report["proposals"]["scaling"] = bench_parts.bench_scaling(backgrounds, test.images, settings.scaling_counts,
                                                               settings.scaling_frames)

    say("3/7 every 32x32 window one by one against one FCN pass")
    report["windows"] = bench_parts.bench_windows(frames_640[0], settings.windows_width or WORKING_WIDTH, settings.repeats)

    say("4/7 the class FCN on each runtime")
    with ScoreMap() as scores:
        inputs = [scores.shrink(frame) for frame in frames_640]
    report["runtimes"] = bench_limit.bench_runtimes(inputs, settings.repeats, bench_parts.summary, time_tensorflow)

    say("5/7 this CPU's peak multiply-add rate, again")
    peak = bench_limit.best_peak(first_peak, bench_limit.measure_peak(settings.matmul_side, settings.fc_side))
    report["limit"] = bench_limit.distance_to_limit(peak, report["runtimes"], report["paths"])

    say(f"6/7 file job against the bare path; live at {settings.live_fps} fps")
    segment_frames = decoded[:settings.pipeline_frames]
    report["pipeline"] = {"frames": len(segment_frames),
                          "segment": bench_parts.file_against_bare(settings.input, "segment", segment_frames,
                                                                   settings.pipeline_rounds),
                          "boxes": bench_parts.file_against_bare(settings.input, "boxes", frames)}
    report["live"] = bench_parts.bench_live(settings.input, frames, RunConfig().budget_ms, settings.live_frames,
                                            settings.live_fps)
    from streamsee.evaluation.bench_sources import bench_sources

    say(f"7/7 {', '.join(map(str, settings.sources))} sources at once, with and without a browser client")
    report["sources"] = bench_sources(settings.input, settings.sources, settings.source_frames,
                                      progress=lambda line: say(f"7/7 {line}"))
    report["ratios"] = ratios(report)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def add_bench_parser(commands, default_data: str) -> None:
    """`streamsee bench`'s flags (the numbers are read by run_bench_command: a bad one is one line).
    Built for every subcommand's parser: it imports nothing heavy."""
    bench = commands.add_parser(
        "bench", help="both paths and their parts measured side by side on this machine (table, JSON, figure)",
        description="On the same real frames: the FCN path against the box path per frame and stage at each size, "
        "proposals (time, recall, objects per frame), every window against one FCN pass, the runtimes, the distance "
        "to this CPU's peak, the file job against the bare path, live latency. Takes minutes; --frames shortens it.")
    bench.add_argument("--input", metavar="VIDEO", default=None, help="the video the frames come from "
                       "(default: the bundled sample)")
    bench.add_argument("--frames", metavar="N", default="20",
                       help="frames per size and per mode (default 20; the segment mode's file job against its bare "
                            "path: 90 a round, 3 rounds)")
    bench.add_argument("--sizes", default=",".join(size_key(s) for s in SIZES),
                       help="frame sizes, WIDTHxHEIGHT, comma-separated (default: %(default)s)")
    bench.add_argument("--json", metavar="PATH", default=None, help="write the whole report as JSON")
    bench.add_argument("--plot", metavar="PATH.png", default=None,
                       help="draw latency per size and path and the proposal scaling (needs the bench extra)")
    bench.add_argument("--data", default=default_data, help=f"CIFAR-10, for composed scenes (default: {default_data})")
    bench.add_argument("--backgrounds", default=BenchSettings.backgrounds,
                       help="photos the scenes are composed on (default: %(default)s)")
    bench.add_argument("--sources", metavar="N,N,...", default="1,2,4",
                       help="part 7: how many sources at once, each run with and without a browser client (default 1,2,4)")
    bench.add_argument("--only", choices=("sources",), default=None, help="measure part 7 alone")


def check_output(path: str | None, flag: str, suffix: str | None = None) -> Path | None:
    """An output path, checked before minutes of measuring: its folder exists, it is not a folder."""
    if path is None:
        return None
    out = Path(path)
    if suffix and out.suffix.lower() != suffix:
        raise ValueError(f"{flag} must name a {suffix} file, got {path!r}")
    if out.is_dir() or not out.parent.is_dir():
        raise OSError(f"cannot write {flag} {path!r}: " + ("it is a folder" if out.is_dir() else "no such folder"))
    return out


def run_bench_command(args, time_tensorflow=None) -> int:
    """`streamsee bench`: measure, show the table, write --json and --plot."""
    from rich.console import Console

    from streamsee.evaluation.bench_render import render_bench

    sources = tuple(parse_count("--sources", part) for part in args.sources.split(","))
    settings = BenchSettings(input=args.input, frames=parse_count("--frames", args.frames), sizes=parse_sizes(args.sizes),
                             data=args.data, backgrounds=args.backgrounds, sources=sources)
    json_path = check_output(args.json, "--json")
    plot_path = check_output(args.plot, "--plot", ".png")
    if plot_path is not None and importlib.util.find_spec("matplotlib") is None:
        raise ValueError("--plot needs matplotlib: pip install 'streamsee[bench]'")
    status = Console(stderr=True)
    if args.only == "sources":
        from streamsee.evaluation.bench_sources import bench_sources, render_sources

        report = bench_sources(settings.input, settings.sources, settings.source_frames,
                               progress=lambda line: status.print(f"streamsee bench: {line}", highlight=False))
        render_sources(report, Console())
        if json_path is not None:
            json_path.write_text(json.dumps(report, indent=1) + "\n")
        return 0
    report = run_bench(settings, lambda line: status.print(f"streamsee bench: {line}", highlight=False),
                       time_tensorflow)
    render_bench(report, Console())
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=1) + "\n")
    if plot_path is not None:
        from streamsee.evaluation.bench_render import plot_bench

        plot_bench(report, plot_path)
    return 0

