"""The bench report for people: rich tables on the terminal, a matplotlib figure (the bench extra)."""

from __future__ import annotations

import os

# The targets: ratio key -> (comparison, bound).
TARGETS = {"fcn_over_boxes_640x480": ("<=", 0.5), "dlib_over_boundieboxies": (">=", 5.0),
           "windows_over_fcn": (">=", 20.0), "file_over_bare_segment": (">=", 0.85)}


def meets(value: float | None, comparison: str, bound: float) -> str:
    if value is None:
        return "not measured"
    return "met" if (value <= bound if comparison == "<=" else value >= bound) else "not met"


def ms(row: dict | None) -> str:
    return "" if row is None else f"{row['p50_ms']:.1f} / {row['p95_ms']:.1f}"


def render_bench(report: dict, console) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    machine = report["machine"]
    console.print("[bold]streamsee bench[/bold] " + escape(
        f"{report['date']}: {machine['model']}, {machine['usable_cores']} cores, flags "
        f"{' '.join(machine['flags']) or 'none of note'}, load {machine['load_average']}; "
        f"{report['settings']['frames']} frames of {report['settings']['input']}"), highlight=False)
    if report.get("exports"):
        console.print("exports run here (--runtime auto: int8 or float, threads, the fastest timed once and cached): " + escape(
            ", ".join(f"{name} {row['file'].rsplit('_', 1)[-1][:-7]} on {row['threads']}" for name, row in report["exports"].items())),
            highlight=False)

    table = Table(title="1. ms per frame: the path at p50, p95; its stages, the draw at p50",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("size", "path", "p50", "p95", "prop", "pre", "infer", "post", "draw", "GMAC"):
        table.add_column(column, justify="right")
    for size, paths in report["paths"].items():
        for kind in ("fcn", "boxes"):
            stages = paths[kind]["stages"]
            table.add_row(size, kind, f"{paths[kind]['total']['p50_ms']:.1f}", f"{paths[kind]['total']['p95_ms']:.1f}",
                          *("" if stages.get(name) is None else f"{stages[name]['p50_ms']:.1f}"
                            for name in ("proposals", "preprocess", "inference", "postprocess", "draw")),
                          f"{paths[kind]['macs_per_frame'] / 1e9:.2f}")
    console.print(table)

    proposals = report["proposals"]
    table = Table(title=f"2. proposals, ms p50 / p95: real frames at 640x480; {proposals['scenes']['count']} composed "
                        f"scenes ({proposals['scenes']['objects']} objects)")
    for column in ("method", "real frames", "scenes", "object recall", "boxes per scene"):
        table.add_column(column, justify="right")
    for method in ("boundieboxies", "dlib"):
        scene = proposals["scenes"][method]
        table.add_row(method, ms(proposals["frames"][method]), ms(scene), f"{scene['object_recall']:.3f}",
                      f"{scene['boxes_per_frame']:.0f}")
    console.print(table)
    table = Table(title="2. proposals as objects per 640x480 frame grow: ms p50 (object recall)")
    for column in ("objects", "side px", "boundieboxies", "dlib", "dlib / boundieboxies"):
        table.add_column(column, justify="right")
    for row in proposals["scaling"]:
        b, d = row["boundieboxies"], row["dlib"]
        table.add_row(str(row["objects"]), str(row["side_px"]), f"{b['p50_ms']:.1f} ({b['object_recall']:.2f})",
                      f"{d['p50_ms']:.1f} ({d['object_recall']:.2f})", f"{d['p50_ms'] / b['p50_ms']:.2f}")
    console.print(table)

    windows = report["windows"]
    console.print(f"3. {windows['windows']} windows of 32x32 (stride {windows['stride']} at {windows['working_size'][1]}x"
                  f"{windows['working_size'][0]}) classified in batches of {windows['batch_size']}: "
                  f"{windows['windows_ms']:.0f} ms; one class FCN pass: {windows['fcn_ms']:.1f} ms", highlight=False)

    runtimes = report["runtimes"]
    table = Table(title=f"4. the class FCN on each runtime, input {runtimes['input_shape']}")
    for column in ("runtime", "ms p50 / p95", "labels as float", "note"):
        table.add_column(column, justify="right")
    for name in ("litert_int8", "litert_float", "tensorflow", "opencv_dnn", "onnxruntime"):
        row = runtimes[name]
        table.add_row(name, ms(row) if "p50_ms" in row else "-",
                      f"{row['agreement_with_float']:.4f}" if "agreement_with_float" in row else "",
                      escape(row.get("not_measured", "")))
    console.print(table)

    limit = report["limit"]
    peak = limit["peak"]
    table = Table(title=f"5. distance to the limit: peak float32 {peak['float32_gmacs']:.1f} GMAC/s "
                        f"(numpy {peak['float32_numpy_gmacs']:.1f}), int8 {peak['int8_litert_gmacs']:.1f} GMAC/s")
    for column in ("what", "MACs", "ms p50", "GMAC/s", "% of peak"):
        table.add_column(column, justify="right")
    rows = [(f"class FCN {name}", row) for name, row in limit["class_fcn"].items()]
    rows += [(f"{kind} path {size}", row) for size, kinds in limit["paths"].items() for kind, row in kinds.items()]
    for name, row in rows:
        table.add_row(name, f"{row['macs'] / 1e6:.0f} M", f"{row['ms']:.1f}", f"{row['gmacs']:.2f}",
                      f"{row['percent_of_peak']:.1f}" if row["percent_of_peak"] is not None else "")
    console.print(table)

    table = Table(title="6. file job (decode, analyse, draw, encode) against the bare path (medians of the rounds)")
    for column in ("mode", "frames", "rounds", "bare fps", "file fps", "file / bare"):
        table.add_column(column, justify="right")
    for mode, row in report["pipeline"].items():
        if isinstance(row, dict):
            table.add_row(mode, str(row["file_frames"]), str(row["rounds"]), f"{row['bare_fps']:.2f}",
                          f"{row['file_fps']:.2f}", f"{row['file_over_bare']:.3f}")
    console.print(table)
    live = report["live"]
    console.print(f"6. live, {live['source_fps']} fps source, {live['frames']} frames ({live['analysed']} analysed, "
                  f"{live['skipped']} skipped, {live['dropped']} dropped): results drawn {live['p50_ms']:.0f} ms (p50), "
                  f"{live['p95_ms']:.0f} ms (p95) after capture against a budget of {live['budget_ms']:.0f} ms "
                  f"({'within' if live['p95_ms'] <= live['budget_ms'] else 'over'}, cost level "
                  f"{live['final_cost_level']} at the end); each frame drawn {live['frame_latency_p50_ms']:.0f} / "
                  f"{live['frame_latency_p95_ms']:.0f} ms after capture", highlight=False)

    table = Table(title="ratios in this run against the issue's targets")
    for column in ("ratio", "value", "target", ""):
        table.add_column(column, justify="right")
    for key, value in report["ratios"].items():
        comparison, bound = TARGETS[key]
        table.add_row(key, "-" if value is None else f"{value:.3f}", f"{comparison} {bound:g}", meets(value, comparison, bound))
    console.print(table)
    if "sources" in report:
        from streamsee.evaluation.bench_sources import render_sources

        render_sources(report["sources"], console)


def plot_bench(report: dict, path: os.PathLike | str) -> None:
    """A PNG: latency per frame size and path (p50 bars, p95 whiskers), proposal time and recall as
    objects per frame grow. Needs matplotlib (the bench extra)."""
    import numpy as np
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 4.8), layout="constrained")
    left, right = figure.subplots(1, 2)
    sizes = list(report["paths"])
    x = np.arange(len(sizes))
    for offset, (kind, label, colour) in zip((-0.2, 0.2), (("fcn", "FCN path", "tab:blue"), ("boxes", "box path", "tab:orange"))):
        p50 = np.array([report["paths"][s][kind]["total"]["p50_ms"] for s in sizes])
        p95 = np.array([report["paths"][s][kind]["total"]["p95_ms"] for s in sizes])
        draw = np.array([report["paths"][s][kind]["stages"]["draw"]["p50_ms"] for s in sizes])
        left.bar(x + offset, p50, 0.4, yerr=[np.zeros_like(p50), p95 - p50], capsize=4, color=colour, label=f"{label}")
        left.bar(x + offset, draw, 0.4, bottom=p50, color=colour, alpha=0.4, label=f"{label}: draw")
    left.set_xticks(x, sizes)
    left.set_xlabel("frame size")
    left.set_ylabel("ms per frame (p50; whisker: p95)")
    left.set_title(f"latency per frame ({report['settings']['frames']} real frames)")
    left.legend()
    rows = report["proposals"]["scaling"]
    counts = [row["objects"] for row in rows]
    recall_axis = right.twinx()
    for method, colour in (("boundieboxies", "tab:green"), ("dlib", "tab:red")):
        right.plot(counts, [row[method]["p50_ms"] for row in rows], "o-", color=colour, label=f"{method}: time")
        recall_axis.plot(counts, [row[method]["object_recall"] for row in rows], "x--", color=colour, alpha=0.6,
                         label=f"{method}: recall")
    right.set_xscale("log")
    right.set_xticks(counts, [str(count) for count in counts], rotation=45)
    right.minorticks_off()
    right.set_xlabel("objects per 640x480 frame")
    right.set_ylabel("ms per frame (p50)")
    recall_axis.set_ylabel("object recall (IoU >= 0.5)")
    recall_axis.set_ylim(0, 1.05)
    right.set_title("proposals as objects per frame grow")
    lines, labels = right.get_legend_handles_labels()
    more_lines, more_labels = recall_axis.get_legend_handles_labels()
    right.legend(lines + more_lines, labels + more_labels, fontsize="small")
    figure.suptitle(f"streamsee bench {report['date']}: {report['machine']['model']}, "
                    f"{report['machine']['usable_cores']} cores")
    figure.savefig(path, dpi=100)
