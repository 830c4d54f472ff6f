"""Shared fixtures. Real data lives in ../shared (beside the project): CI always has it, and
there a missing file is a failure; elsewhere tests that need it skip and say why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("STREAMSEE_SHARED", ROOT.parent / "shared"))
CIFAR = SHARED / "data" / "cifar10-jpeg.tar.gz"
MEDIA = SHARED / "media"


def shared_file(path: Path) -> Path:
    """`path` if it exists; in CI a missing file fails the test, elsewhere it skips it."""
    if path.exists():
        return path
    message = f"needs {path} (the shared data beside the project), which is not here"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def cifar_path() -> Path:
    return shared_file(CIFAR)


@pytest.fixture(scope="session")
def cifar_test(cifar_path):
    from streamsee.data import load_cifar10

    return load_cifar10(cifar_path, "test")


@pytest.fixture(scope="session")
def media():
    return lambda relative: shared_file(MEDIA / relative)
