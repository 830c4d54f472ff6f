"""The `streamsee` command line: a thin layer over the package's API.

Every failure a user can cause (missing or unreadable file, bad data, bad model) ends in
one line on stderr naming the problem and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from streamsee import __version__

EXIT_USER_ERROR = 2
DEFAULT_DATA = "../shared/data/cifar10-jpeg.tar.gz"
DEFAULT_TINY = "../shared/data/tinyimagenet-64.tar.gz"
USER_ERRORS = (OSError, ValueError)  # missing, unreadable, unwritable, malformed: what users cause


SUBCOMMANDS = ("classify", "evaluate", "train", "bench", "batch")


def build_parser() -> argparse.ArgumentParser:
    from streamsee.core.config import RUNTIMES

    parser = argparse.ArgumentParser(prog="streamsee",
                                     description="Recognise the ten CIFAR-10 classes in images and video.")
    parser.add_argument("--version", action="version", version=f"streamsee {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    classify = commands.add_parser("classify", help="top-3 classes of whole images")
    classify.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any size; grey, colour or RGBA)")
    classify.add_argument("--model", default=None, help="LiteRT classifier (default: the shipped int8 model)")
    classify.add_argument("--json", action="store_true", help="print one JSON object per image")

    evaluate = commands.add_parser("evaluate", help="score the shipped classifier on the CIFAR-10 test split, "
                                   "or both paths on composed scenes (--scenes N)")
    evaluate.add_argument("--data", default=DEFAULT_DATA,
                          help=f"CIFAR-10: JPEG tree (.tar.gz or folder) or binary release (default: {DEFAULT_DATA})")
    evaluate.add_argument("--model", action="append", default=None,
                          help="LiteRT classifier (default: the shipped int8 model); repeat to score an ensemble "
                               "(the mean of their class scores, as --teacher distils them)")
    evaluate.add_argument("--scenes", type=int, default=None, metavar="N",
                          help="compose N 640x480 scenes from test images and measure both paths on them")
    evaluate.add_argument("--backgrounds", default=None, help="folder of photos with none of the classes, for --scenes "
                          "(default: ../shared/media/negatives)")
    evaluate.add_argument("--working-width", type=int, default=None, help="FCN working width for --scenes and --footage")
    evaluate.add_argument("--objectness-width", type=int, default=None,
                          help="--scenes and --footage: the objectness FCN on, at this working width (off by default)")
    evaluate.add_argument("--footage", metavar="MEDIA", nargs="?", const="../shared/media", default=None,
                          help="both paths on every file MEDIA/labels.csv lists (default ../shared/media): the top claim "
                          "of 20 frames a clip against its classes, and claims on the files that show none")
    evaluate.add_argument("--smooth", type=float, default=None, metavar="KEEP",
                          help="--footage: smoothing over time as the main job runs video (default 0.6; 0: each frame on its own)")
    evaluate.add_argument("--min-score", type=float, default=None,
                          help="--footage: the box path's least class probability (default: the calibrated threshold)")
    evaluate.add_argument("--runtime", choices=RUNTIMES, default=None,
                          help="--footage: the models' exports, as the main job's --runtime (default auto)")
    evaluate.add_argument("--real-photos", metavar="ARCHIVE", nargs="?", const=DEFAULT_TINY, default=None,
                          help="real photos at 32x32 (Tiny ImageNet val, default " + DEFAULT_TINY + "): share named right, "
                          "share called background, AUROC and FPR95 against CIFAR-10 test, for the shipped classifier "
                          "and box model (or each --model)")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")

    train = commands.add_parser("train", help="train the shared CIFAR-10 convnet (checkpoints and resumes), "
                                "or the FCN heads on top of it")
    train.add_argument("what", nargs="?", choices=("classifier", "fcn", "boxes", "fast"), default="classifier",
                       help="the classifier (default), the FCN heads, the box path's model "
                            "(fine-tuned, with its score thresholds), or the fast ten-class classifier the box model "
                            "can start from (needs --tiny)")
    train.add_argument("--data", required=True, help="CIFAR-10: JPEG tree (.tar.gz or folder) or binary release")
    train.add_argument("--out", required=True, help="folder for checkpoint, log, exported models, model card")
    train.add_argument("--epochs", type=int, default=None, help="classifier: length of the one-cycle schedule; boxes: epochs")
    train.add_argument("--tiny", default=None, metavar="ARCHIVE",
                       help="boxes: also train on Tiny ImageNet's training photos (tinyimagenet-64.tar.gz): "
                            "the mapped classes at their class, the 'none' classes as background; fast and classifier: "
                            "its photos of the classes")
    train.add_argument("--backbone", default=None, metavar="WEIGHTS",
                       help="boxes: start from these classifier weights (classifier.weights.h5 of `streamsee train`) "
                            "instead of the shipped classifier's")
    train.add_argument("--fast-backbone", default=None, metavar="WEIGHTS",
                       help="boxes: start from a fast classifier's weights (fast.weights.h5 of `train fast`) "
                            "instead of the shipped classifier")
    train.add_argument("--parts", action="store_true",
                       help="boxes, with --tiny: a piece of each photo of the classes as background too (an ear is not a cat)")
    train.add_argument("--none-pieces", action="store_true",
                       help="boxes, with --tiny: a piece of each photo of the `none` classes as background too")
    train.add_argument("--none-classes", action="store_true",
                       help="boxes, with --tiny: each `none` class a score of its own while training, summed into "
                            "background for export")
    train.add_argument("--resized-crops", action="store_true",
                       help="boxes: half the examples a random part of themselves (35-100 %% of the area, any shape "
                            "from 1:2 to 2:1) squeezed back to the input side")
    train.add_argument("--size", type=int, default=None, metavar="S",
                       help="boxes: train and export the box model at S x S pixels instead of 32 (the runtime reads it "
                            "from the model)")
    train.add_argument("--background-share", type=float, default=None,
                       help="boxes: share of the fit's weight on background examples (default 0.5)")
    train.add_argument("--real-share", type=float, default=None,
                       help="boxes, with --tiny: share of each side's weight on Tiny ImageNet's photos (default 0.4)")
    train.add_argument("--scratch", action="store_true",
                       help="boxes: train a fresh net (training/fastnet.py, airbench94's recipe) instead of "
                            "fine-tuning the classifier")
    train.add_argument("--limit", type=int, default=None, help="classifier: train on this many images only")
    train.add_argument("--init", default=None, help="classifier: start from these weights (warm restart); "
                       "boxes: from a box model's weights (boxes.weights.h5 of an earlier run) instead of the classifier")
    train.add_argument("--peak-lr", type=float, default=None, help="classifier: peak of the one-cycle schedule")
    train.add_argument("--teacher", action="append", default=[], metavar="MODEL",
                       help="classifier: distil from these weights or .tflite model (repeat for an ensemble)")
    train.add_argument("--width", type=int, default=None,
                       help="classifier: channels of the first stage (default 20, the shipped budget); "
                            "a wider run is a teacher, through its .tflite")
    train.add_argument("--steps", type=int, default=None, help="fcn: training steps")
    train.add_argument("--fine-tune", action="store_true", help="fcn: train the backbone's convolutions too")
    train.add_argument("--learning-rate", type=float, default=None,
                       help="fcn: Adam's starting learning rate; boxes: SGD's, before its cosine decay")
    train.add_argument("--classify-weight", type=float, default=None,
                       help="fcn with --fine-tune: weight of the classifier's own loss on CIFAR-10 images (default 0: off)")
    train.add_argument("--backgrounds", choices=("skimage", "photos"), default=None,
                       help="fcn: photos the scenes are composed on: scikit-image's (default) or those and "
                            "Debian's fitting wallpapers")
    train.add_argument("--object-side", type=int, nargs=2, metavar=("MIN", "MAX"), default=None,
                       help="fcn: sides of the pasted objects at the working resolution, px (default 20 88)")
    from streamsee.evaluation.bench import add_bench_parser
    add_bench_parser(commands, DEFAULT_DATA)
    from streamsee.batch.options import add_batch_parser
    add_batch_parser(commands)
    return parser


def show(args, report: dict, render) -> int:
    """A report as JSON (--json) or as rich tables: render(report, console)."""
    from rich.console import Console

    if args.json:
        print(json.dumps(report))
    else:
        render(report, Console())
    return 0


def run_bench(args) -> int:
    from streamsee.evaluation.bench import run_bench_command
    from streamsee.training.tensorflow_bench import time_fcn  # imports TensorFlow only when called

    return run_bench_command(args, time_tensorflow=time_fcn)


def run_input(args) -> int:
    from rich.console import Console

    from streamsee.core.config import RunConfig, load_config
    from streamsee.live.pipeline import run
    from streamsee.video.sinks import check_writable, write_text

    config = (load_config(args.config) if args.config else RunConfig()).replace(
        mode=args.mode, proposals=args.proposals, working_width=args.working_width,
        objectness_width=args.objectness_width, min_score=args.min_score,
        realtime=args.realtime, budget_ms=args.budget_ms, queue_size=args.queue_size, timeout_s=args.timeout_s,
        hud=args.hud, display=args.display, smooth=args.smooth, live=args.live, rtsp_transport=args.rtsp_transport,
        reconnect_s=args.reconnect_s, serve=args.serve, serve_token=args.serve_token, workers=args.workers,
        runtime=args.runtime)
    if args.stats_json:
        check_writable(args.stats_json)
    console = Console(stderr=True)
    if len(args.inputs) + len(args.camera) > 1:
        return run_several_inputs(args, config, console)
    camera = args.camera[0] if args.camera else None
    camera = int(camera) if camera is not None and camera.isdigit() else camera

    def finished(report) -> None:
        """On every way out once frames were processed (the end, q, Ctrl-C, SIGTERM, an error):
        the statistics file and the summary; main() prints the error's one line after them."""
        if args.stats_json:
            write_text(args.stats_json, json.dumps({"mode": config.mode, **report.to_json()}, indent=1))
        summarise(report, config.mode, console)

    report = run(config, args.inputs[0] if args.inputs else None, camera, output=args.output, jsonl=args.jsonl,
                 masks=args.save_masks, console=console, finished=finished)
    if report.ended != "end of input":
        console.print(f"streamsee: stopped: {report.ended}")
    return 0


def summarise(report, mode: str, console, name: str | None = None) -> None:
    """A source's end-of-run table and figures, and the images it skipped."""
    from streamsee.live.pipeline import render_summary

    render_summary(report.snapshot, mode, console, name)
    console.print(f"{name + ': ' if name else ''}{report.snapshot.frames} frames in {report.seconds:.1f} s "
                  f"({report.frames_per_second:.1f} frames per second)")
    for image in report.unreadable:
        console.print(f"streamsee: warning: skipped {image!r}: not a readable image", markup=False, highlight=False)


def run_several_inputs(args, config, console) -> int:
    """Several inputs and cameras at once (live.several): a summary for each; the statistics file holds every
    source's; exit status 2 when one of them failed (each said in its line)."""
    from streamsee.live.several import run_several
    from streamsee.video.sinks import write_text

    figures: dict[str, dict] = {}

    def finished(name: str, report) -> None:
        figures[name] = report.to_json()
        summarise(report, config.mode, console, name)
        if args.stats_json:  # rewritten as each source ends: what ended first is kept whatever comes later
            write_text(args.stats_json, json.dumps({"mode": config.mode, "sources": figures}, indent=1))

    reports = run_several(config, args.inputs, args.camera, output=args.output, jsonl=args.jsonl,
                          masks=args.save_masks, console=console, finished=finished)
    fine = ("end of input", "quit from the window")
    if any(report is not None and report.ended == "quit from the window" for report in reports):
        console.print("streamsee: stopped: quit from the window")
    return 0 if all(report is not None and report.ended in fine for report in reports) else EXIT_USER_ERROR


def run_classify(args) -> int:
    import cv2

    from streamsee.core.labels import CLASSES
    from streamsee.recognition.classifier import DEFAULT_MODEL, Classifier

    with Classifier(args.model or DEFAULT_MODEL) as classifier:
        for name in args.images:
            if not Path(name).is_file():
                raise FileNotFoundError(f"image not found: {name!r}")
            image = cv2.imread(name, cv2.IMREAD_UNCHANGED)
            if image is None:
                raise ValueError(f"not a readable image: {name!r}")
            probabilities = classifier.classify(image)
            top = probabilities.argsort()[::-1][:3]
            if args.json:
                print(json.dumps({"image": name, "top3": [{"label": CLASSES[i], "class_id": int(i),
                                                            "probability": round(float(probabilities[i]), 4)}
                                                           for i in top]}))
            else:
                print(f"{name}: " + ", ".join(f"{CLASSES[i]} {probabilities[i]:.2f}" for i in top))
    return 0


def run_evaluate(args) -> int:
    if args.real_photos is not None:
        from streamsee.evaluation.realphotos import evaluate_real_photos, render_real_photos

        models = {"models": args.model} if args.model else {}
        reports = evaluate_real_photos(args.data, args.real_photos, **models)
        return show(args, [report.to_json() for report in reports], render_real_photos)
    if args.footage is not None:
        from streamsee.core.config import RunConfig
        from streamsee.evaluation.footage import evaluate_footage, render_footage_report

        settings = {key: value for key, value in (("working_width", args.working_width),
                                                  ("objectness_width", args.objectness_width)) if value is not None}
        checked = RunConfig().replace(smooth=args.smooth, min_score=args.min_score, runtime=args.runtime)  # as the main job's
        settings |= {"smooth": checked.smooth, "min_score": checked.min_score, "runtime": checked.runtime}
        return show(args, evaluate_footage(args.footage, **settings), render_footage_report)
    if args.scenes is not None:
        from streamsee.evaluation.scenes import DEFAULT_BACKGROUNDS, evaluate_scenes, render_scene_report

        if args.scenes < 1:
            raise ValueError(f"--scenes must be at least 1, got {args.scenes}")
        return show(args, evaluate_scenes(args.data, args.scenes, args.backgrounds or DEFAULT_BACKGROUNDS,
                                          working_width=args.working_width, objectness_width=args.objectness_width),
                    render_scene_report)
    from streamsee.evaluation.cifar import evaluate_classifier, render_report
    from streamsee.recognition.classifier import DEFAULT_MODEL

    return show(args, evaluate_classifier(args.data, args.model or [DEFAULT_MODEL]).to_json(), render_report)


class MissingExtraError(ModuleNotFoundError):
    """A command whose optional dependencies are not installed."""


TRAINING_PACKAGES = ("tensorflow", "keras", "skimage")


def training(name: str):
    """streamsee.training.NAME, or one line saying which extra to install when TensorFlow or scikit-image is missing."""
    from importlib import import_module

    try:
        return import_module(f"streamsee.training.{name}")
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] not in TRAINING_PACKAGES:
            raise
        raise MissingExtraError(f"streamsee train needs the training extra ({error.name} is not installed): "
                                "pip install 'streamsee[train]'") from None


def run_train(args) -> int:
    if args.what == "boxes":
        boxes = training("boxes")
        log = boxes.train_box_head(args.data, args.out, tiny=args.tiny, epochs=args.epochs, scratch=args.scratch,
                                   parts=args.parts, none_pieces=args.none_pieces,
                                   none_classes=args.none_classes, resized_crops=args.resized_crops, init=args.init,
                                   learning_rate=args.learning_rate,
                                   fast_backbone=args.fast_backbone, backbone_weights=args.backbone or boxes.BACKBONE_WEIGHTS,
                                   background_share=boxes.BACKGROUND_SHARE if args.background_share is None else args.background_share,
                                   real_share=boxes.REAL_SHARE if args.real_share is None else args.real_share,
                                   size=boxes.INPUT_SIZE if args.size is None else args.size)
        print(json.dumps({key: value for key, value in log.items() if key != "calibration"}
                         | {"min_score": log["calibration"]["min_score"],
                            "recall_at_min_score": log["calibration"]["recall_at_min_score"]}))
        return 0
    if args.what == "fast":
        if args.tiny is None:
            raise ValueError("streamsee train fast learns from real photos too: give --tiny ARCHIVE "
                             "(tinyimagenet-64.tar.gz)")
        fast = training("fast_classifier")
        log = fast.train_fast(args.data, args.tiny, args.out, epochs=args.epochs or fast.EPOCHS)
        print(json.dumps(log["evaluation"]))
        return 0
    if args.what == "fcn":
        train_fcn = training("fcn")
        train_fcn.train_fcn(args.data, args.out, steps=args.steps or train_fcn.STEPS, fine_tune=args.fine_tune,
                            learning_rate=args.learning_rate or train_fcn.LEARNING_RATE,
                            classify_weight=args.classify_weight or train_fcn.CLASSIFY_WEIGHT,
                            backgrounds=args.backgrounds or train_fcn.BACKGROUNDS,
                            object_side=args.object_side or train_fcn.OBJECT_SIDE)
        return 0
    train = training("classifier")
    train.train(args.data, args.out, epochs=args.epochs or train.EPOCHS, limit=args.limit, init=args.init,
                peak_lr=train.PEAK_LR if args.peak_lr is None else args.peak_lr, teachers=args.teacher,
                width=train.WIDTH if args.width is None else args.width, tiny=args.tiny)
    return 0


def run_batch(args) -> int:
    from streamsee.core.config import RunConfig, load_config

    try:
        from streamsee.batch.driver import run_batch as batch
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] != "ray":
            raise
        raise MissingExtraError(f"streamsee batch needs the cluster extra ({error.name} is not installed): "
                                "pip install 'streamsee[cluster]'") from None
    config = (load_config(args.config) if args.config else RunConfig()).replace(mode=args.mode, hud=args.hud)
    report = batch(args.inputs, args.out, config, address=args.address, workers=args.workers, json_path=args.json,
                   video=args.video, jsonl=args.jsonl, masks=args.masks, chunk_seconds=args.chunk_seconds)
    failed = [outcome for outcome in report.outcomes if outcome.status == "failed"]
    for outcome in failed:
        print(f"streamsee: error: {outcome.name!r}: {outcome.reason}", file=sys.stderr)
    return EXIT_USER_ERROR if failed else 0


COMMANDS = {"classify": run_classify, "evaluate": run_evaluate, "train": run_train, "bench": run_bench,
            "batch": run_batch}


class Terminated(BaseException):
    """SIGTERM arrived: raised in the main thread so that every output is finalised on the way out. A
    BaseException, as KeyboardInterrupt is: code that handles a failure of its own (`except Exception`) lets
    it through."""


def _terminate(signum, frame) -> None:
    raise Terminated("terminated (SIGTERM)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        args = build_parser().parse_args(argv)
        command = COMMANDS[args.command]
    else:
        from streamsee.live.options import build_run_parser

        args = build_run_parser(__version__, SUBCOMMANDS).parse_intermixed_args(argv)  # INPUTs before, between and after the options
        command = run_input
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return command(args)
    except (*USER_ERRORS, MissingExtraError) as error:
        print(f"streamsee: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("streamsee: interrupted (Ctrl-C); what was written so far is finalised", file=sys.stderr)
        return 130
    except Terminated:
        print("streamsee: terminated (SIGTERM); what was written so far is finalised", file=sys.stderr)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
