"""CIFAR-10 loaders: the JPEG layout (tar.gz or folder) and the official binary release.

Both return images as BGR uint8 arrays of shape (N, 32, 32, 3) and labels as uint8 (N,),
the same convention as every frame inside streamsee. No pickle is involved anywhere.
"""

from __future__ import annotations

import functools
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from streamsee.core.labels import CLASSES

LAYOUTS = (
    "a JPEG tree train/<class>/*.jpg and test/<class>/*.jpg, as a folder or a .tar.gz",
    "the official binary release cifar-10-binary.tar.gz (or its extracted cifar-10-batches-bin folder)",
)
_BIN_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
_BIN_TEST = ("test_batch.bin",)
_BIN_RECORD = 1 + 32 * 32 * 3


class DatasetFormatError(ValueError):
    """The path exists but does not hold CIFAR-10 in a layout streamsee reads."""

    def __init__(self, path: os.PathLike | str, detail: str):
        accepted = "; ".join(LAYOUTS)
        super().__init__(f"{str(path)!r}: {detail}. Accepted layouts: {accepted}")


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # (N, 32, 32, 3) uint8, BGR
    labels: np.ndarray  # (N,) uint8, class ids

    def __len__(self) -> int:
        return len(self.labels)


def load_cifar10(path: os.PathLike | str, split: str = "train") -> Split:
    """Load one split ('train' or 'test') of CIFAR-10 from any accepted layout.

    An archive's decoded split is kept for the process (keyed by its path, size and modification
    time: decoding 60,000 JPEGs takes seconds, and training and evaluation read the same archive
    several times); each call returns its own copy of the arrays.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"CIFAR-10 data not found: {str(path)!r}")
    if path.is_file():
        stat = path.stat()
        kept = _load_archive(str(path), str(path.resolve()), split, stat.st_size, stat.st_mtime_ns)
        return Split(kept.images.copy(), kept.labels.copy())
    return _load_dir(path, split)


@functools.lru_cache(maxsize=2)
def _load_archive(shown: str, resolved: str, split: str, size: int, mtime_ns: int) -> Split:
    """One split of an archive, decoded once per path (as given and resolved), size, modification time and split."""
    path = Path(shown)
    try:
        with tarfile.open(path, "r:*") as archive:
            return _load_tar(path, archive, split)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DatasetFormatError(path, f"not a readable archive ({error})") from None


def _load_tar(path: Path, archive: tarfile.TarFile, split: str) -> Split:
    jpegs: list[tuple[str, int, bytes]] = []
    batches: dict[str, bytes] = {}
    wanted_bins = _BIN_TRAIN if split == "train" else _BIN_TEST
    for member in archive:
        if not member.isfile():
            continue
        parts = Path(member.name).parts
        jpeg_label = _jpeg_label(parts, split)
        if jpeg_label is not None:
            jpegs.append((member.name, jpeg_label, archive.extractfile(member).read()))
        elif parts and parts[-1] in wanted_bins:
            batches[parts[-1]] = archive.extractfile(member).read()
    if jpegs:
        jpegs.sort(key=lambda item: item[0])
        return _decode_jpegs(path, [(label, data) for _, label, data in jpegs])
    if batches:
        return _parse_bins(path, [batches[name] for name in wanted_bins if name in batches], wanted_bins, batches)
    raise DatasetFormatError(path, f"no {split} images found")


def _load_dir(path: Path, split: str) -> Split:
    roots = [path, *[p for p in path.iterdir() if p.is_dir()]]
    for root in roots:
        split_dir = root / split
        if split_dir.is_dir() and any((split_dir / c).is_dir() for c in CLASSES):
            items = []
            for class_id, name in enumerate(CLASSES):
                for file in sorted((split_dir / name).glob("*.jpg")):
                    items.append((class_id, file.read_bytes()))
            return _decode_jpegs(path, items)
        wanted = _BIN_TRAIN if split == "train" else _BIN_TEST
        found = {name: (root / name).read_bytes() for name in wanted if (root / name).is_file()}
        if found:
            return _parse_bins(path, [found[n] for n in wanted if n in found], wanted, found)
    raise DatasetFormatError(path, f"no {split} images found")


def _jpeg_label(parts: tuple[str, ...], split: str) -> int | None:
    if len(parts) < 3 or not parts[-1].lower().endswith((".jpg", ".jpeg")):
        return None
    if parts[-3] != split or parts[-2] not in CLASSES:
        return None
    return CLASSES.index(parts[-2])


def _decode_jpegs(path: Path, items: list[tuple[int, bytes]]) -> Split:
    images = np.empty((len(items), 32, 32, 3), np.uint8)
    labels = np.empty(len(items), np.uint8)
    for index, (label, data) in enumerate(items):
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None or image.shape != (32, 32, 3):
            raise DatasetFormatError(path, f"image #{index} is not a 32x32 colour JPEG")
        images[index] = image
        labels[index] = label
    return Split(images, labels)


def _parse_bins(path: Path, blobs: list[bytes], wanted: tuple[str, ...], found: dict) -> Split:
    missing = [name for name in wanted if name not in found]
    if missing:
        raise DatasetFormatError(path, f"binary release is missing {', '.join(missing)}")
    raw = b"".join(blobs)
    if len(raw) % _BIN_RECORD:
        raise DatasetFormatError(path, f"binary batch size {len(raw)} is not a multiple of {_BIN_RECORD}-byte records")
    records = np.frombuffer(raw, np.uint8).reshape(-1, _BIN_RECORD)
    labels = records[:, 0].copy()
    if labels.max(initial=0) >= len(CLASSES):
        raise DatasetFormatError(path, f"label byte {int(labels.max())} is out of range 0-9")
    rgb_planar = records[:, 1:].reshape(-1, 3, 32, 32)
    images = np.ascontiguousarray(rgb_planar[:, ::-1].transpose(0, 2, 3, 1))  # planar RGB -> HWC BGR
    return Split(images, labels)
