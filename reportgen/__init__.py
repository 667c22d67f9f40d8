"""reportgen: train the seed study's CNN and ViT on CIFAR-10 and write their comparative report."""

import os

__version__ = "0.6.0"

# cuBLAS reads its workspace setting once, when it creates its first handle: set here, at the first import of
# reportgen and before torch can touch CUDA, so that a deterministic run after any earlier matmul still gets
# it. ":4096:8" is what deterministic algorithms need; it costs a few MiB of GPU memory and no measurable speed.
CUBLAS_WORKSPACE = ":4096:8"
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
