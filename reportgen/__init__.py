"""reportgen: train the seed study's CNN and ViT on CIFAR-10 and write their comparative report."""

__version__ = "0.4.0"
