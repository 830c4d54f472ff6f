"""streamsee: watch live video and say which CIFAR-10 classes are in it, as it happens.

    import streamsee

    with streamsee.open("clip.mp4", mode="segment", budget_ms=100) as stream:
        for frame in stream:
            print(frame.index, frame.analysed, frame.labels)

Everything named here is imported on first use, so `import streamsee` stays light.
"""

import os
from importlib import import_module

# LiteRT logs INFO lines to stderr from C++; keep the terminal for our own messages.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from streamsee.core.files import SAMPLE_IMAGE, SAMPLE_VIDEO  # noqa: E402
from streamsee.core.labels import CLASSES  # noqa: E402

__version__ = "0.1.0"

_LAZY = {
    "open": "streamsee.live.api", "LiveStream": "streamsee.live.api", "FrameResult": "streamsee.live.api",
    "Analyser": "streamsee.live.analyser",
    "Result": "streamsee.core.result", "PathResult": "streamsee.core.result",
    "BoxDetector": "streamsee.recognition.boxes", "Segmenter": "streamsee.recognition.segmenter",
    "Classifier": "streamsee.recognition.classifier",
}
__all__ = ["CLASSES", "SAMPLE_IMAGE", "SAMPLE_VIDEO", "__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'streamsee' has no attribute {name!r}")
