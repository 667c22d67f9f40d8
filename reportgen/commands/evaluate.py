"""`reportgen evaluate`: a bundle and its report from weights trained elsewhere (e.g. in the seed notebook)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import click

from reportgen.commands.options import DEFAULT_ARTIFACTS, collect_overrides, wrote
from reportgen.config import KNOWN_MODELS
from reportgen.config_loading import load_config
from reportgen.errors import ConfigError
from reportgen.image_folder import check_data_source
from reportgen.presets import PRESETS
from reportgen.weights import check_weights_file


def parse_weights(texts: Sequence[str]) -> dict[str, Path]:
    """``--weights MODEL=FILE`` options -> {model: file}, in the registry's model order; ConfigError (exit 2)
    for a malformed option, WeightsError for a file that does not exist (both before torch is imported)."""
    weights: dict[str, Path] = {}
    for text in texts:
        model, sep, file = text.partition("=")
        if not sep or not file:
            raise ConfigError(f"--weights takes MODEL=FILE, e.g. --weights cnn=cnn.pt; got '{text}'")
        if model not in KNOWN_MODELS:
            raise ConfigError(f"--weights names unknown model '{model}': known models are {', '.join(KNOWN_MODELS)}")
        if model in weights:
            raise ConfigError(f"--weights gives model '{model}' twice: one weights file per model")
        weights[model] = Path(file)
    if not weights:
        raise ConfigError("evaluate needs at least one --weights MODEL=FILE, e.g. --weights cnn=cnn.pt")
    for file in weights.values():
        check_weights_file(file)
    return {model: weights[model] for model in KNOWN_MODELS if model in weights}


@click.command()
@click.option("--weights", "weights", multiple=True, required=True, metavar="MODEL=FILE",
              help="A model's state dict, e.g. --weights cnn=cnn.pt (saved with torch.save(model.state_dict(), "
                   "FILE), from the seed notebook's classes or reportgen's); once per model.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML file of config sections: the architecture the weights were trained with, the data.")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default="seed", show_default=True,
              help="seed: CIFAR-10 and the notebook's architectures. quick: the bundled sample.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_ARTIFACTS / "evaluated",
              show_default=True, help="Bundle folder to write.")
@click.option("--data-dir", type=click.Path(path_type=Path),
              help="ImageFolder root with train/ and test/ class folders (32x32 RGB), instead of downloading CIFAR-10.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override any config key, e.g. --set cnn.channels=[8,16] (repeatable).")
def evaluate(weights, config_file, preset, out, data_dir, overrides):
    """Evaluate weights trained elsewhere (e.g. in the seed notebook) and write a bundle with its report.

    Each file must be a plain state dict: it is loaded with torch.load(weights_only=True), so a file
    that would need code to load is refused, never run. It must fit the architecture of the config
    exactly (strict loading); otherwise one line names the first parameter that does not fit and
    both shapes, exit code 2. The bundle holds predictions, metrics, visuals, samples, architectures,
    environment and dataset as a build's does, and each run says it was evaluated, not trained, with
    the weights' sha256; there is no training history.

    \b
    Examples:
      reportgen evaluate --weights cnn=cnn.pt --weights vit=vit.pt --data-dir data/cifar10-jpeg
      reportgen evaluate --weights cnn=cnn.pt --preset quick --out artifacts/alice
    """
    config = load_config(preset, config_file, collect_overrides(data_dir, overrides=overrides))
    files = parse_weights(weights)
    check_data_source(config.data)  # before torch loads: a wrong path is told in a second
    from reportgen.evaluate import evaluate as run_evaluate  # imports torch
    from reportgen.runtime import resolve_runtime

    for run in run_evaluate(files, config, resolve_runtime(config), out, log=click.echo):
        click.echo(f"  {run.model}: test accuracy {run.accuracy:.2%}, weights sha256 {run.weights_sha256}")
    click.echo(wrote(out, config.report.pdf))
