"""Shared fixtures. Real data lives in ../shared (beside the project): CI always has it, and
there a missing file is a failure; elsewhere tests that need it skip and say why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from needs import need

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("STREAMSEE_SHARED", ROOT.parent / "shared"))
CIFAR = SHARED / "data" / "cifar10-jpeg.tar.gz"
TINY = SHARED / "data" / "tinyimagenet-64.tar.gz"
MEDIA = SHARED / "media"


def shared_file(path: Path) -> Path:
    """`path` if it exists; in CI a missing file fails the test, elsewhere it skips it."""
    if not path.exists():
        need(f"needs {path} (the shared data beside the project), which is not here")
    return path


@pytest.fixture(scope="session")
def cifar_path() -> Path:
    return shared_file(CIFAR)


@pytest.fixture(scope="session")
def tiny_path() -> Path:
    return shared_file(TINY)


@pytest.fixture(scope="session")
def cifar_test(cifar_path):
    from streamsee.datasets.cifar10 import load_cifar10

    return load_cifar10(cifar_path, "test")


@pytest.fixture(scope="session")
def cifar_sample(cifar_test, tmp_path_factory) -> Path:
    """A folder in CIFAR-10's JPEG layout holding the first 50 test images of each class (500): for
    checks of a command's or report's form, where the whole test set only costs time."""
    import cv2
    import numpy as np

    from streamsee.core.labels import CLASSES

    root = tmp_path_factory.mktemp("cifar-sample")
    for class_id, name in enumerate(CLASSES):
        (root / "test" / name).mkdir(parents=True)
        for index in np.nonzero(cifar_test.labels == class_id)[0][:50].tolist():
            cv2.imwrite(str(root / "test" / name / f"{index:05d}.jpg"), cifar_test.images[index])
    return root


@pytest.fixture(scope="session")
def media():
    return lambda relative: shared_file(MEDIA / relative)


@pytest.fixture(scope="session")
def wallpapers() -> None:
    """Debian's wallpaper packages, which the box head is fitted on: installed by .ci/run; missing,
    a test that needs them fails in CI and skips elsewhere."""
    from streamsee.datasets.scenes import WALLPAPER_FOLDER, WALLPAPER_PACKAGES, WALLPAPERS

    missing = [name for part in WALLPAPERS.values() for name in part if not (WALLPAPER_FOLDER / name).is_file()]
    if missing:
        need(f"needs Debian's wallpapers in {WALLPAPER_FOLDER} ({len(missing)} missing, e.g. {missing[0]!r}): "
             f"apt-get install {' '.join(WALLPAPER_PACKAGES)}")


@pytest.fixture(scope="module")
def ray_instance():
    """A real local Ray instance (2 CPUs) for a test module of the batch command; skips without the cluster extra."""
    ray = pytest.importorskip("ray", reason="needs the cluster extra: pip install -e '.[cluster]'")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()
