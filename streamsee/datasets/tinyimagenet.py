"""Tiny ImageNet (64x64 real photos) in CIFAR-10's terms, read from its tar.gz.

The archive holds the original layout under ``tinyimagenet/`` and ``cifar10_map.csv``, which says
for every WordNet class whether it is a CIFAR-10 class, ``none`` of the ten, or ``ambiguous``.
`load_tinyimagenet` returns the images of the mapped and the `none` classes, BGR uint8
(N, 64, 64, 3), with labels 0-9 (the CIFAR-10 class) or NONE (none of the ten); ambiguous
classes are left out. Its training half may be trained on; its val half only measured.
"""

from __future__ import annotations

import csv
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from streamsee.core.frames import resize_squares
from streamsee.core.labels import CLASSES, NUM_CLASSES

NONE = NUM_CLASSES  # label of images that show none of the ten
SIZE = 64


class TinyImageNetError(ValueError):
    """The path exists but does not hold the Tiny ImageNet subset with its cifar10_map.csv."""

    def __init__(self, path: os.PathLike | str, detail: str):
        super().__init__(f"{str(path)!r}: {detail} (expected tinyimagenet-64.tar.gz: tinyimagenet/cifar10_map.csv, "
                         "train/<wnid>/images/*.JPEG, val/images/*.JPEG with val/val_annotations.txt)")


@dataclass(frozen=True)
class TinySplit:
    images: np.ndarray  # (N, 64, 64, 3) uint8, BGR
    labels: np.ndarray  # (N,) int64: 0-9 the CIFAR-10 class, NONE (10) none of the ten
    wnids: np.ndarray  # (N,) str: the WordNet class of each image

    def __len__(self) -> int:
        return len(self.labels)

    def at_size(self, side: int) -> np.ndarray:
        """The images resized to side x side (area interpolation when shrinking; themselves at 64)."""
        return resize_squares(self.images, side)


def read_map(text: str) -> dict[str, int | None]:
    """wnid -> CIFAR-10 class id, NONE, or None (ambiguous) from cifar10_map.csv's text."""
    meaning: dict[str, int | None] = {}
    for row in csv.DictReader(io.StringIO(text)):
        name = row["cifar10"].strip()
        meaning[row["wnid"].strip()] = CLASSES.index(name) if name in CLASSES else NONE if name == "none" else None
    return meaning


def load_tinyimagenet(path: os.PathLike | str, split: str = "val", per_class: int | None = None) -> TinySplit:
    """One split ('train' or 'val') of the mapped and `none` classes; `per_class` keeps the first N of each class."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Tiny ImageNet archive not found: {str(path)!r}")
    try:
        with tarfile.open(path, "r:*") as archive:
            return _read(path, archive, split, per_class)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise TinyImageNetError(path, f"not a readable archive ({error})") from None


def _read(path: Path, archive: tarfile.TarFile, split: str, per_class: int | None) -> TinySplit:
    files: dict[str, bytes] = {}
    val_wnid: dict[str, str] = {}
    meaning = None
    for member in archive:
        if not member.isfile():
            continue
        parts = Path(member.name).parts
        if parts[-1] == "cifar10_map.csv":
            meaning = read_map(archive.extractfile(member).read().decode())
        elif split == "val" and parts[-1] == "val_annotations.txt":
            for line in archive.extractfile(member).read().decode().splitlines():
                fields = line.split("\t")
                if len(fields) >= 2:
                    val_wnid[fields[0]] = fields[1]
        elif parts[-1].endswith(".JPEG") and split in parts:
            files[member.name] = archive.extractfile(member).read()
    if meaning is None:
        raise TinyImageNetError(path, "no cifar10_map.csv")
    items = []
    for name in sorted(files):
        parts = Path(name).parts
        wnid = val_wnid.get(parts[-1]) if split == "val" else parts[parts.index("train") + 1]
        if wnid is not None and meaning.get(wnid) is not None:
            items.append((wnid, name))
    if per_class:
        items = [item for item, rank in zip(items, _ranks(items)) if rank < per_class]
    if not items:
        raise TinyImageNetError(path, f"no {split} images of mapped or 'none' classes")
    images = np.empty((len(items), SIZE, SIZE, 3), np.uint8)
    for index, (_, name) in enumerate(items):
        image = cv2.imdecode(np.frombuffer(files[name], np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise TinyImageNetError(path, f"{name!r} does not decode")
        images[index] = image if image.shape == (SIZE, SIZE, 3) else cv2.resize(image, (SIZE, SIZE))
    wnids = np.array([wnid for wnid, _ in items])
    return TinySplit(images, np.array([meaning[wnid] for wnid in wnids], np.int64), wnids)


def _ranks(items: list[tuple[str, str]]) -> list[int]:
    """Each item's position among the items of its class, in order."""
    count: dict[str, int] = {}
    ranks = []
    for wnid, _ in items:
        ranks.append(count.get(wnid, 0))
        count[wnid] = ranks[-1] + 1
    return ranks
