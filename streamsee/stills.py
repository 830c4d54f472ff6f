"""Still images through the chosen mode: one image, or a folder of them in file-name order."""

from __future__ import annotations

import os
from pathlib import Path

import cv2

from .analyse import Analyser
from .classifier import to_bgr
from .sinks import JsonlSink, MaskSink, OutputError, check_writable

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def list_images(source: os.PathLike | str) -> list[Path]:
    """The image, or the images of a folder sorted by file name."""
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"input not found: {str(source)!r}")
    if source.is_dir():
        images = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {str(source)!r}")
        return images
    return [source]


def read_image(path: Path):
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"not a readable image: {str(path)!r}")
    return to_bgr(image)


def process_stills(source: os.PathLike | str, analyser: Analyser, output: os.PathLike | str | None = None,
                   jsonl: os.PathLike | str | None = None, masks: os.PathLike | str | None = None) -> int:
    """Analyse every image; write annotated images, JSON lines and masks as asked. Returns the count."""
    images = list_images(source)
    folder_input = Path(source).is_dir()
    if output is not None:
        output = check_writable(output, folder=folder_input)
    if masks is not None and "segment" not in analyser.paths:
        raise ValueError("--save-masks needs --mode segment or compare")
    with (JsonlSink(jsonl) if jsonl else _Nothing()) as rows, (MaskSink(masks) if masks else _Nothing()) as mask_sink:
        for index, path in enumerate(images):
            frame = read_image(path)
            outputs = analyser(frame)
            for path_output in outputs:
                rows.write(index, 0.0, path_output)
                if path_output.mode == "segment":
                    mask_sink.write(index, path_output.result.class_map)
            if output is not None:
                target = output / path.name if folder_input else output
                if not cv2.imwrite(str(target), analyser.annotate(frame, outputs)):
                    raise OutputError(f"cannot write output {str(target)!r}")
    return len(images)


class _Nothing:
    """A sink that takes everything and keeps nothing (for outputs nobody asked for)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def write(self, *args, **kwargs):
        return None
