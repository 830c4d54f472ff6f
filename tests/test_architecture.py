"""The shape of the package (docs/architecture.md): one folder per concern, imports pointing one way,
no circles, modules a reader takes in at one sitting, and no TensorFlow outside training."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "streamsee"
MAX_LINES = 400
# What each folder may import of streamsee (itself always). The arrows of docs/architecture.md.
ALLOWED = {
    "core": set(),
    "recognition": {"core"},
    "video": {"core"},
    "render": {"core"},
    "live": {"core", "recognition", "video", "render"},
    "datasets": {"core"},
    "evaluation": {"core", "recognition", "video", "render", "live", "datasets"},
    "training": {"core", "recognition", "datasets", "evaluation"},
    "batch": {"core", "recognition", "video", "render", "live"},  # on top, like evaluation; only it imports Ray
    "cli": {"core", "recognition", "video", "render", "live", "datasets", "evaluation", "training", "batch"},
    "__main__": {"cli"},
    "__init__": {"core", "recognition", "live"},
}
TRAINING_ONLY = ("tensorflow", "keras")  # (scikit-image: only inside the functions that compose training scenes)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def folder(module: str) -> str:
    """The concern a module belongs to: its first folder under streamsee (or its own name at the top)."""
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions, relative imports resolved."""
    found = set()
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}  # `from pkg import module`
    return found


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: {other for other in imports(path) if other in MODULES and other != name} for name, path in MODULES.items()}


def test_the_package_has_one_folder_per_concern():
    folders = {path.name for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").is_file()}
    assert folders == {"core", "recognition", "video", "render", "live", "datasets", "evaluation", "training", "batch"}
    top_level = {path.name for path in PACKAGE.glob("*.py")}
    assert top_level == {"__init__.py", "__main__.py", "cli.py"}


def test_imports_point_one_way():
    upward = []
    for name, targets in GRAPH.items():
        for target in targets:
            if target == "streamsee" or folder(target) == folder(name):
                continue
            if folder(target) not in ALLOWED[folder(name)]:
                upward.append(f"{name} imports {target}")
    assert not upward, "\n".join(sorted(upward))


def test_no_import_circles():
    """Between modules, and between folders."""
    def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
        found, state = [], {}

        def visit(node: str, trail: list[str]) -> None:
            state[node] = "open"
            for target in sorted(graph.get(node, ())):
                if state.get(target) == "open":
                    found.append(trail[trail.index(target):] + [target])
                elif target not in state:
                    visit(target, trail + [target])
            state[node] = "done"

        for node in sorted(graph):
            if node not in state:
                visit(node, [node])
        return found

    assert not cycles(GRAPH)
    folders: dict[str, set[str]] = {}
    for name, targets in GRAPH.items():
        folders.setdefault(folder(name), set()).update(folder(t) for t in targets if folder(t) != folder(name))
    folders.pop("__init__")  # `streamsee` itself only re-exports names lazily
    for targets in folders.values():
        targets.discard("__init__")
    assert not cycles(folders)


def test_modules_are_short():
    long = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert not {name: lines for name, lines in long.items() if lines > MAX_LINES}


def test_only_training_imports_tensorflow():
    offenders = [f"{name} imports {module}" for name, path in MODULES.items() if folder(name) != "training"
                 for module in imports(path) if module.partition(".")[0] in TRAINING_ONLY]
    assert not offenders


def test_the_runtime_install_leaves_out_the_training_packages():
    runtime = [line for line in requires("streamsee") if "extra ==" not in line]
    assert runtime and not [line for line in runtime if line.split(">")[0].split("=")[0].strip() in
                            ("tensorflow", "tensorflow-cpu", "keras", "scikit-image")]


RUN_WITHOUT_TENSORFLOW = """
import sys
import streamsee
from streamsee.cli import main

image, out = sys.argv[1], sys.argv[2]
assert main([image, "--mode", "compare", "--no-display", "--output", out]) == 0
assert main(["classify", image]) == 0
with streamsee.open(mode="segment") as stream:
    for frame in stream:
        if frame.index == 3:
            break
heavy = sorted(name for name in sys.modules if name.partition(".")[0] in ("tensorflow", "keras", "skimage"))
print("loaded:", heavy)
"""


def test_running_the_main_job_never_imports_tensorflow(tmp_path):
    result = subprocess.run([sys.executable, "-c", RUN_WITHOUT_TENSORFLOW, str(PACKAGE / "samples" / "chelsea.jpg"),
                             str(tmp_path / "out.png")], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout, result.stdout


@pytest.mark.parametrize("package", ["tensorflow", "keras"])
def test_train_without_the_extra_says_which_to_install(tmp_path, package):
    # a `tensorflow` / `keras` that cannot be imported, first on the path: as if the extra were not installed
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text(f"name = {package!r}\n"
                                                    "raise ModuleNotFoundError('No module named ' + repr(name), name=name)\n")
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "streamsee", "train", "--data", "x", "--out", str(tmp_path / "o")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"streamsee: error: streamsee train needs the training extra ({package} is not installed): "
        "pip install 'streamsee[train]'"]
