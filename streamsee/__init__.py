"""streamsee: watch live video and say which CIFAR-10 classes are in it, as it happens."""

from .labels import CLASSES

__version__ = "0.1.0"
__all__ = ["CLASSES", "__version__"]
