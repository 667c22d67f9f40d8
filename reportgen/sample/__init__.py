"""A class-balanced sample of real CIFAR-10 images, for offline runs (the quick preset)."""
