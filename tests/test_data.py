import io
import os
import tarfile

import cv2
import numpy as np
import pytest

from streamsee.core.labels import CLASSES
from streamsee.datasets.cifar10 import DatasetFormatError, load_cifar10


def binary_records(n: int, seed: int):
    """Records in the official layout: 1 label byte, then 1024 R, 1024 G, 1024 B bytes."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    rgb = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    planar = rgb.transpose(0, 3, 1, 2).reshape(n, -1)
    return np.concatenate([labels[:, None], planar], axis=1).tobytes(), labels, rgb


def add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


@pytest.fixture
def binary_archive(tmp_path):
    path = tmp_path / "cifar-10-binary.tar.gz"
    expected = {}
    with tarfile.open(path, "w:gz") as archive:
        for index, name in enumerate([f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]):
            data, labels, rgb = binary_records(4, seed=index)
            add_bytes(archive, f"cifar-10-batches-bin/{name}", data)
            expected[name] = (labels, rgb)
        add_bytes(archive, "cifar-10-batches-bin/batches.meta.txt", "\n".join(CLASSES).encode())
    return path, expected


def test_binary_release_is_read_as_bgr(binary_archive):
    path, expected = binary_archive
    train = load_cifar10(path, "train")
    test = load_cifar10(path, "test")
    assert train.images.shape == (20, 32, 32, 3) and train.images.dtype == np.uint8
    assert len(test) == 4
    labels, rgb = expected["test_batch.bin"]
    np.testing.assert_array_equal(test.labels, labels)
    np.testing.assert_array_equal(test.images, rgb[..., ::-1])  # BGR inside streamsee
    first_labels, first_rgb = expected["data_batch_1.bin"]
    np.testing.assert_array_equal(train.labels[:4], first_labels)
    np.testing.assert_array_equal(train.images[:4], first_rgb[..., ::-1])


def test_binary_release_as_extracted_folder(binary_archive, tmp_path):
    path, expected = binary_archive
    with tarfile.open(path) as archive:
        archive.extractall(tmp_path / "extracted", filter="data")
    test = load_cifar10(tmp_path / "extracted", "test")
    np.testing.assert_array_equal(test.labels, expected["test_batch.bin"][0])


def test_jpeg_folder_layout(tmp_path):
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for name in ("cat", "ship"):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for i in range(3):
                image = np.full((32, 32, 3), rng.integers(0, 256, 3), np.uint8)
                cv2.imwrite(str(folder / f"{i:04d}.jpg"), image)
    test = load_cifar10(tmp_path, "test")
    assert len(test) == 6
    assert sorted(set(test.labels.tolist())) == [CLASSES.index("cat"), CLASSES.index("ship")]


@pytest.mark.slow
def test_real_jpeg_archive(cifar_path):
    test = load_cifar10(cifar_path, "test")
    assert test.images.shape == (10000, 32, 32, 3)
    assert np.bincount(test.labels).tolist() == [1000] * 10
    train = load_cifar10(cifar_path, "train")
    assert len(train) == 50000 and np.bincount(train.labels).tolist() == [5000] * 10


def test_missing_path_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-file.tar.gz"):
        load_cifar10(tmp_path / "no-such-file.tar.gz")


def test_corrupt_archive_names_path_and_layouts(tmp_path):
    path = tmp_path / "broken.tar.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00 this is not really gzip data at all")
    with pytest.raises(DatasetFormatError, match="broken.tar.gz") as caught:
        load_cifar10(path)
    assert "Accepted layouts" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_truncated_binary_batch(tmp_path):
    path = tmp_path / "short.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        add_bytes(archive, "cifar-10-batches-bin/test_batch.bin", b"\x01" * 100)
    with pytest.raises(DatasetFormatError, match="multiple of 3073"):
        load_cifar10(path, "test")


def test_unknown_layout(tmp_path):
    path = tmp_path / "other.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        add_bytes(archive, "notes/readme.txt", b"hello")
    with pytest.raises(DatasetFormatError, match="no train images found"):
        load_cifar10(path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetFormatError, match="empty"):
        load_cifar10(tmp_path / "empty")


def test_an_archive_is_decoded_once_and_each_caller_gets_its_own_copy(binary_archive):
    path, _ = binary_archive
    first = load_cifar10(path, "train")
    first.images[:] = 0  # a caller changing its arrays changes nobody else's
    second = load_cifar10(path, "train")
    assert second.images.any() and second.images is not first.images
    np.testing.assert_array_equal(load_cifar10(path, "train").labels, second.labels)
    with tarfile.open(path, "w:gz") as archive:  # the same path rewritten: read again
        add_bytes(archive, "cifar-10-batches-bin/data_batch_1.bin", binary_records(3, seed=9)[0])
    os.utime(path, ns=(0, 0))
    with pytest.raises(DatasetFormatError, match="missing data_batch_2.bin"):
        load_cifar10(path, "train")
