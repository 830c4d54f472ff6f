"""streamsee: watch live video and say which CIFAR-10 classes are in it, as it happens.

    import streamsee

    with streamsee.open("clip.mp4", mode="segment", budget_ms=100) as stream:
        for frame in stream:
            print(frame.index, frame.analysed, frame.labels)
"""

import os

# LiteRT and TensorFlow log INFO lines to stderr from C++; keep the terminal for our own messages.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .labels import CLASSES  # noqa: E402

__version__ = "0.1.0"
__all__ = ["CLASSES", "FrameResult", "LiveStream", "__version__", "open"]

_API = ("open", "LiveStream", "FrameResult")  # imported on first use: `import streamsee` stays light


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'streamsee' has no attribute {name!r}")
