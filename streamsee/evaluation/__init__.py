"""Measuring: CIFAR-10 top-1, composed scenes, real footage, the bench."""
