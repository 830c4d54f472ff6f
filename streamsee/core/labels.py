"""The ten CIFAR-10 classes, in the canonical order (class id = position)."""

CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
NUM_CLASSES = len(CLASSES)
BACKGROUND_ID = 255  # class-map value for pixels that show none of the classes
