"""The README for users: its Python examples run as written from any folder (on the bundled samples), and it
stays short, the two commands in its first screen."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_the_readme_has_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.slow
@pytest.mark.parametrize("number", range(len(EXAMPLES)))
def test_readme_example_runs(number, tmp_path):
    result = subprocess.run([sys.executable, "-c", EXAMPLES[number]], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "an example should print what it found"


def test_the_readme_is_short_with_the_two_commands_first():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines: history belongs in docs/experiments.md"
    first_screen = "\n".join(lines[:45])
    assert 'pip install -e . && streamsee' in first_screen
    assert 'pip install -e ".[dev]" && python -m pytest' in first_screen
