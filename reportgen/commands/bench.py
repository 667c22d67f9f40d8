"""`reportgen bench`: the seed notebook's training pipeline against reportgen's, on this machine."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reportgen.commands.options import DEVICES, collect_overrides
from reportgen.config_loading import load_config
from reportgen.image_folder import check_layout


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the raw measurements as JSON (progress goes to stderr).")
@click.option("--data-dir", type=click.Path(path_type=Path),
              help="ImageFolder root to measure on.  [default: the bundled sample, 4,000 training images]")
@click.option("--batch-size", type=int, help="Batch size of both ways (train.batch_size).  [default: 1024]")
@click.option("--device", type=click.Choice(DEVICES), help="Device (train.device).")
@click.option("--steps", type=click.IntRange(min=1), default=5, show_default=True,
              help="Timed training steps per model and way.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. --set train.compile=true or --set models=[cnn].")
@click.option("--quick", is_flag=True, help="A tiny smoke run (seconds): every measurement, no meaningful numbers.")
def bench(as_json, data_dir, batch_size, device, steps, overrides, quick):
    """Measure the seed notebook's pipeline against reportgen's on this machine, side by side.

    Augmented images per second (PIL transforms through a DataLoader vs batched augmentation on the
    device), training throughput per model (eager fp32 with the PIL loader vs reportgen's default
    for the device), and one epoch end to end per model; then the ratios reportgen / seed. Then the
    machine's own limits on the device (fp32 and bf16 matrix products, a convolution, a memory copy:
    seconds-long probes) and each model's training step as a share of the limit they allow for its
    FLOPs and estimated bytes per image. When other processes used the machine during a measurement,
    the goals are not judged.

    \b
    Examples:
      reportgen bench
      reportgen bench --json > bench.json
      reportgen bench --device cuda --data-dir data/cifar10-jpeg
    """
    collected = collect_overrides(device=device, overrides=overrides)
    if batch_size is not None:
        collected["train.batch_size"] = batch_size
    config = load_config("seed", None, collected)
    if data_dir is not None:
        check_layout(data_dir)  # before torch loads
    from reportgen.bench import busy_warning, format_table, run_benchmark  # imports torch
    from reportgen.runtime import resolve_runtime

    log = (lambda message: click.echo(message, err=True)) if as_json else click.echo
    result = run_benchmark(config, resolve_runtime(config), data_dir=data_dir, steps=steps, quick=quick, log=log)
    click.echo(json.dumps(result, indent=2) if as_json else format_table(result))
    warning = busy_warning(result)
    if as_json and warning:
        click.echo(warning, err=True)  # stdout stays pure JSON
