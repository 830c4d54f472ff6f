"""Where the files that ship inside the package live: models, presets, the bundled samples.

They are package data, found beside this package wherever it is installed (an editable checkout
or a wheel in site-packages), never relative to the working directory.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
MODELS_DIR = PACKAGE_DIR / "models"
CONFIG_DIR = PACKAGE_DIR / "configs"
SAMPLES_DIR = PACKAGE_DIR / "samples"
SAMPLE_VIDEO = SAMPLES_DIR / "sample.mp4"  # made by scripts/make_samples.py
SAMPLE_IMAGE = SAMPLES_DIR / "chelsea.jpg"
