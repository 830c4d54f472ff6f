"""streamsee: watch live video and say which CIFAR-10 classes are in it, as it happens."""

import os

# LiteRT and TensorFlow log INFO lines to stderr from C++; keep the terminal for our own messages.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .labels import CLASSES  # noqa: E402

__version__ = "0.1.0"
__all__ = ["CLASSES", "__version__"]
