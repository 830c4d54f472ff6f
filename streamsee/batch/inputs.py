"""What a batch is made of: the input files its arguments name, each one's outputs under the output
folder, and the done-marker that says a file's outputs are complete.

Arguments are files (taken as they are, whatever their suffix), folders (walked recursively for
videos and images by suffix; hidden entries and the output folder itself are left out) and globs
(`clips/**/*.mp4`; a folder a glob matches is walked). All of them are resolved before any work
starts: an argument that names nothing is a FileNotFoundError quoting it.

Outputs mirror the input tree below the inputs' common folder: `cams/a/clip.mkv` with `--out out`
and the argument `cams/` gives `out/a/clip.mkv` (the annotated video; an input in a container that
cannot be written, such as `.avi`, gets `clip.avi.mp4`), `out/a/clip.mkv.jsonl`,
`out/a/clip.mkv.masks/NNNNNN.png` and, written last, `out/a/clip.mkv.done.json`. An image gives an
annotated image of its own name.

The done-marker holds the input's size and modification time and the settings the outputs were made
with (JSON, read with json.loads: nothing in it is executed). A rerun skips an input only when its
marker matches all of them and every output it lists is there.
"""

from __future__ import annotations

import glob
import json
import os
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from streamsee.video.sinks import VIDEO_CODECS, write_text
from streamsee.video.sources import IMAGE_SUFFIXES

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".flv",
                  ".wmv", ".3gp", ".ogv")
GLOB_CHARACTERS = frozenset("*?[")
MARKER_VERSION = 1


@dataclass(frozen=True)
class Job:
    """One input and where its outputs go (None: not asked for). Paths are absolute strings.

    A chunk of a long video (batch/chunks.py) is a Job too: a time range of the input (`start`,
    `end`: seconds, None for its beginning, its end), outputs under temporary names, and no done-marker."""

    input: str
    name: str  # the input relative to the inputs' common folder: how it is shown and where its outputs go
    kind: str  # "video" or "image"
    output: str | None
    jsonl: str | None
    masks: str | None
    done: str | None  # None: a chunk (the input it is part of gets the marker once its chunks are joined)
    start: Fraction | None = None
    end: Fraction | None = None

    def outputs(self) -> list[str]:
        return [path for path in (self.output, self.jsonl, self.masks) if path is not None]

    @property
    def chunk(self) -> bool:
        """Whether this is a time range of its input rather than the whole of it."""
        return self.start is not None or self.end is not None


def is_glob(argument: str) -> bool:
    return any(character in GLOB_CHARACTERS for character in argument)


def glob_root(pattern: str) -> str:
    """The folder a glob searches from: its leading components without glob characters."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if is_glob(part):
            break
        fixed.append(part)
    return os.path.abspath(os.path.join(*fixed)) if fixed else os.getcwd()


def wanted(path: Path) -> bool:
    """A file a folder walk takes: a video or an image by suffix, not hidden, not an output being written."""
    return (path.suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES and not path.name.startswith(".")
            and ".partial-" not in path.name)


def walk(folder: str, out: str) -> list[str]:
    """Videos and images under `folder`, in path order, leaving out hidden entries and the output folder."""
    found = []
    for directory, subfolders, names in os.walk(folder):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith(".")
                               and os.path.abspath(os.path.join(directory, name)) != out)
        found += [os.path.abspath(os.path.join(directory, name)) for name in sorted(names) if wanted(Path(name))]
    return found


def expand(argument: str, out: str) -> tuple[str, list[str]]:
    """(the folder the argument's outputs are placed from, the files it names)."""
    if is_glob(argument):
        matches = sorted(glob.glob(argument, recursive=True))
        if not matches:
            raise FileNotFoundError(f"no file matches {argument!r}")
        files = []
        for match in matches:
            files += walk(os.path.abspath(match), out) if os.path.isdir(match) else [os.path.abspath(match)]
        return glob_root(argument), files
    if os.path.isdir(argument):
        files = walk(os.path.abspath(argument), out)
        if not files:
            raise FileNotFoundError(f"no video or image in folder {argument!r}")
        return os.path.abspath(argument), files
    if os.path.exists(argument):
        return os.path.dirname(os.path.abspath(argument)), [os.path.abspath(argument)]
    raise FileNotFoundError(f"input not found: {argument!r}")


def plan(arguments: list[str], out: os.PathLike | str, *, video: bool = True, jsonl: bool = True,
         masks: bool = True) -> list[Job]:
    """The jobs the arguments name, each input once (the first argument naming it places it)."""
    if not arguments:
        raise ValueError("give at least one input: a file, a folder or a glob")
    out = os.path.abspath(out)
    roots, files, seen = [], [], set()
    for argument in arguments:
        root, named = expand(os.fspath(argument), out)
        roots.append(root)
        for path in named:
            if os.path.realpath(path) not in seen:
                seen.add(os.path.realpath(path))
                files.append(path)
    base = os.path.commonpath(roots + [os.path.dirname(path) for path in files])
    jobs = []
    for path in files:
        relative = os.path.relpath(path, base)
        target = os.path.join(out, relative)
        suffix = Path(path).suffix.lower()
        kind = "image" if suffix in IMAGE_SUFFIXES else "video"
        output = None
        if video:
            output = target if kind == "image" or suffix in VIDEO_CODECS else target + ".mp4"
            if os.path.realpath(output) == os.path.realpath(path):
                raise ValueError(f"output {output!r} would overwrite the input {path!r}: choose another --out")
        jobs.append(Job(path, Path(relative).as_posix(), kind, output, target + ".jsonl" if jsonl else None,
                        target + ".masks" if masks else None, target + ".done.json"))
    return jobs


def fingerprint(path: str) -> dict:
    """What says an input is the one the outputs were made from: its size and modification time."""
    status = os.stat(path)
    return {"size": status.st_size, "mtime_ns": status.st_mtime_ns}


def is_done(job: Job, settings: dict) -> bool:
    """Whether the job's outputs are complete: its marker matches the input and `settings`, and every output is there."""
    try:
        marker = json.loads(Path(job.done).read_text(encoding="utf-8"))
        current = fingerprint(job.input)
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return (isinstance(marker, dict) and marker.get("version") == MARKER_VERSION and marker.get("input") == current
            and marker.get("settings") == json.loads(json.dumps(settings))
            and all(os.path.exists(path) for path in job.outputs()))


def mark_done(job: Job, settings: dict, frames: int, seconds: float, before: dict) -> None:
    """Write the job's marker (through a temporary name), last, once its outputs are in place. `before`:
    the input's fingerprint when the work began; an input changed meanwhile gets no marker."""
    if fingerprint(job.input) != before:
        return
    write_text(job.done, json.dumps({"version": MARKER_VERSION, "input": before, "settings": settings,
                                     "frames": frames, "seconds": round(seconds, 3), "outputs": job.outputs(),
                                     "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=1))
