"""CIFAR-10 loading and composed scenes (CIFAR-10 objects pasted on photos), for evaluation and training."""
