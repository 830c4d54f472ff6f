"""Calibration files: small JSON objects `streamsee train` writes beside a model (thresholds chosen
on data), read when a recognition path starts. A missing file means the built-in fallback; a file
that is there but unreadable, or lacks its value, is a CalibrationError naming the file."""

from __future__ import annotations

import json
from pathlib import Path


class CalibrationError(ValueError):
    """A calibration file is there but not readable JSON, or lacks the value wanted."""


def read_calibration(path: Path, key: str, kind: type | tuple[type, ...], what: str):
    """The value under `key` in the calibration file at `path`, or None when there is no such file.

    `kind` is the type the value must have (a bool is never a number), `what` says it in words.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CalibrationError(f"calibration file {str(path)!r} is not readable JSON ({error}); "
                               "restore it or make it again with `streamsee train`") from None
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CalibrationError(f"calibration file {str(path)!r} has no {key!r} ({what}); "
                               "restore it or make it again with `streamsee train`")
    return value
