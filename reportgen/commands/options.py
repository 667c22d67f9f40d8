"""What several commands share: where bundles go by default, and the convenience options as config overrides."""

from __future__ import annotations

from pathlib import Path

from reportgen.config_loading import parse_override
from reportgen.errors import ConfigError

DEFAULT_ARTIFACTS = Path("artifacts")
DEVICES = ["auto", "cpu", "cuda", "mps"]
EXECUTORS = ["local", "ray", "slurm"]


def collect_overrides(data_dir: Path | None = None, epochs: int | None = None, device: str | None = None,
                      seed: int | None = None, seeds: str | None = None, overrides: tuple[str, ...] = (),
                      executor: str | None = None, ray_address: str | None = None) -> dict:
    """Dotted-key overrides from the convenience options and --set, in that order."""
    collected: dict = {}
    if executor is not None:
        collected["executor.kind"] = executor
    if ray_address is not None:
        collected["executor.ray_address"] = ray_address
    if data_dir is not None:
        collected.update({"data.dataset": "folder", "data.dir": str(data_dir)})
    if epochs is not None:
        collected["train.epochs"] = epochs
    if device is not None:
        collected["train.device"] = device
    if seed is not None and seeds is not None:
        raise ConfigError("pass either --seed or --seeds, not both")
    if seed is not None:
        collected["train.seeds"] = [seed]
    if seeds is not None:
        try:
            collected["train.seeds"] = [int(s) for s in seeds.split(",") if s.strip()]
        except ValueError:
            raise ConfigError(f"--seeds takes comma-separated whole numbers, e.g. 42,43,44; got '{seeds}'") from None
    for text in overrides:
        key, value = parse_override(text)
        collected[key] = value
    return collected


def wrote(out: Path, pdf: bool) -> str:
    """The last line of a command that published a bundle."""
    return f"wrote {out}/report.html" + (f" and {out}/report.pdf" if pdf else "")
