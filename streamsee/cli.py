"""The `streamsee` command line: a thin layer over the package's API.

Every failure a user can cause (missing or unreadable file, bad data, bad model) ends in
one line on stderr naming the problem and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_USER_ERROR = 2
USER_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, ValueError, OSError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamsee",
                                     description="Recognise the ten CIFAR-10 classes in images and video.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    classify = commands.add_parser("classify", help="top-3 classes of whole images")
    classify.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any size; grey, colour or RGBA)")
    classify.add_argument("--model", default=None, help="LiteRT classifier (default: the shipped int8 model)")
    classify.add_argument("--json", action="store_true", help="print one JSON object per image")

    evaluate = commands.add_parser("evaluate", help="score the shipped classifier on the CIFAR-10 test split")
    evaluate.add_argument("--data", required=True, help="CIFAR-10: JPEG tree (.tar.gz or folder) or binary release")
    evaluate.add_argument("--model", default=None, help="LiteRT classifier (default: the shipped int8 model)")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")

    train = commands.add_parser("train", help="train the shared CIFAR-10 convnet (checkpoints and resumes)")
    train.add_argument("--data", required=True, help="CIFAR-10: JPEG tree (.tar.gz or folder) or binary release")
    train.add_argument("--out", required=True, help="folder for checkpoint, log, exported models, model card")
    train.add_argument("--epochs", type=int, default=None, help="length of the one-cycle schedule")
    train.add_argument("--limit", type=int, default=None, help="train on this many images only (smoke runs)")
    return parser


def run_classify(args) -> int:
    import cv2

    from .classifier import DEFAULT_MODEL, Classifier
    from .labels import CLASSES

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
    from rich.console import Console

    from .classifier import DEFAULT_MODEL
    from .evaluate import evaluate_classifier, render_report

    report = evaluate_classifier(args.data, args.model or DEFAULT_MODEL)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        render_report(report, Console())
    return 0


def run_train(args) -> int:
    from . import train

    train.train(args.data, args.out, epochs=args.epochs or train.EPOCHS, limit=args.limit)
    return 0


COMMANDS = {"classify": run_classify, "evaluate": run_evaluate, "train": run_train}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except USER_ERRORS as error:
        print(f"streamsee: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("streamsee: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
