"""Run code in a fresh interpreter that refuses torch: the render side must never need it."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def assert_runs_without_torch(code: str) -> None:
    """Run `code` in a fresh interpreter that refuses every torch import, and fail if any was attempted."""
    # A finder that refuses and records every torch import, direct or indirect. (sys.modules["torch"] = None
    # would do the refusing too, but scipy.stats >= 1.15 crashes on a None entry while it merely looks for torch.)
    script = textwrap.dedent("""
        import importlib.abc, sys
        BLOCKED = ("torch", "torchvision", "pytorch_lightning", "lightning")
        attempts = []

        class RefuseTorch(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    attempts.append(name)
                    raise ImportError(f"{name} must not be imported on the render side")
                return None

        sys.meta_path.insert(0, RefuseTorch())
    """) + textwrap.dedent(code) + textwrap.dedent("""
        assert not attempts, attempts
        assert not [m for m in sys.modules if m.split(".")[0] in BLOCKED]
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
