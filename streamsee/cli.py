"""The `streamsee` command line: a thin layer over the package's API."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamsee", description="Recognise the ten CIFAR-10 classes in images and video.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train the shared CIFAR-10 convnet (checkpoints, resumes)")
    train.add_argument("--data", required=True, help="CIFAR-10: JPEG tree (.tar.gz or folder) or binary release")
    train.add_argument("--out", required=True, help="folder for checkpoint, log, exported models, model card")
    train.add_argument("--epochs", type=int, default=None, help="length of the one-cycle schedule")
    train.add_argument("--limit", type=int, default=None, help="train on this many images only (smoke runs)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train":
        from . import train

        train.train(args.data, args.out, epochs=args.epochs or train.EPOCHS, limit=args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
