"""`reportgen build`: train (or reuse) both models, evaluate them and write the bundle with its report."""

from __future__ import annotations

from pathlib import Path

import click

from reportgen.commands.options import DEFAULT_ARTIFACTS, DEVICES, EXECUTORS, collect_overrides, wrote
from reportgen.config_loading import load_config
from reportgen.executors import require_extra
from reportgen.image_folder import check_data_source
from reportgen.presets import PRESETS
from reportgen.trackers import TRACKERS, check_installed


@click.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML file of config sections (data, augment, cnn, vit, train, report, analysis, variants).")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default="seed", show_default=True,
              help="seed: the notebook's protocol (80 epochs, CIFAR-10). quick: the bundled sample, minutes on a CPU. "
                   "study, quick-study: the same with the experiments' variants (augmentation off, smaller training "
                   "sets, a modern recipe).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Bundle folder to write.  [default: artifacts/<preset>]")
@click.option("--data-dir", type=click.Path(path_type=Path),
              help="ImageFolder root with train/ and test/ class folders (32x32 RGB), instead of downloading CIFAR-10.")
@click.option("--epochs", type=int, help="Training epochs (train.epochs; variants that set none train as long).")
@click.option("--device", type=click.Choice(DEVICES), help="Training device (train.device).")
@click.option("--seed", type=int, help="One seed (train.seeds: [N]).")
@click.option("--seeds", help="Several seeds, comma-separated, e.g. 42,43,44: every model trains once per seed.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override any config key, e.g. --set vit.depth=8 --set train.lr=5e-4 (repeatable).")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_ARTIFACTS / "runs",
              show_default=True, help="Store of completed and interrupted training runs, reused across builds.")
@click.option("--force", is_flag=True, help="Retrain every model even when a stored run matches.")
@click.option("--logger", "loggers", multiple=True, type=click.Choice(sorted(TRACKERS)),
              help="Log every run and the report to an experiment tracker (trackers.loggers; repeatable): csv, "
                   "tensorboard, mlflow (a local file store by default), wandb (offline by default). docs/tracking.md")
@click.option("--executor", type=click.Choice(EXECUTORS),
              help="Where the runs train (executor.kind): local (this machine; one run per GPU side by side when "
                   "several are visible), ray (Ray tasks; pip install 'reportgen[ray]'), slurm (SLURM jobs via "
                   "submitit; pip install 'reportgen[slurm]'). docs/gpus-and-clusters.md  [default: local]")
@click.option("--ray-address", help="With --executor ray: the Ray cluster's address (executor.ray_address).  "
                                    "[default: RAY_ADDRESS, else a Ray started on this machine]")
@click.option("--no-progress", is_flag=True, help="No progress bars and no per-epoch lines (quiet logs, e.g. in CI).")
def build(config_file, preset, out, data_dir, epochs, device, seed, seeds, overrides, runs_dir, force, loggers,
          executor, ray_address, no_progress):
    """Train both models, evaluate them and write the bundle with report.html and report.pdf.

    Settings apply in order: preset, --config file, then the options and --set overrides. A model
    whose training settings match a stored run is reused, not retrained; an interrupted build
    resumes from the last completed epoch. Config variants (`variants`: named key overrides) each
    train every model at every seed, and get the report's experiment sections.

    \b
    Examples:
      reportgen build --preset quick
      reportgen build --data-dir data/cifar10-jpeg --epochs 2
      reportgen build --config my.yaml --set vit.depth=8 --seeds 42,43,44
      reportgen build --preset quick-study
      reportgen build --preset quick-study --set variants.data-75.data.train_fraction=0.75
      reportgen build --preset study --executor ray --ray-address auto --runs-dir /shared/reportgen/runs
      reportgen build --preset study --executor slurm --set executor.slurm.partition=gpu --runs-dir /shared/runs
    """
    chosen = collect_overrides(data_dir, epochs, device, seed, seeds, overrides, executor, ray_address)
    if loggers:
        chosen["trackers.loggers"] = list(dict.fromkeys(loggers))
    config = load_config(preset, config_file, chosen)
    check_data_source(config.data)  # before torch loads: a wrong path is told in a second
    check_installed(config.trackers)  # a tracker's missing library, in one line, before any training
    require_extra(config.executor.kind)  # Ray's or submitit's, likewise
    out = out or DEFAULT_ARTIFACTS / preset
    from reportgen.build import build as run_build  # imports torch
    from reportgen.runtime import resolve_runtime

    outcomes = run_build(config, resolve_runtime(config), out, runs_dir, force=force, progress=not no_progress,
                         log=click.echo)
    if not outcomes:  # an extra DDP process: rank 0 reports
        return
    for o in outcomes:
        variant = f"{o.variant}: " if o.variant else ""
        click.echo(f"  {variant}{o.model} seed {o.seed}: {o.status}, test accuracy {o.accuracy:.2%}, "
                   f"trained in {o.train_time_s:.1f} s")
    click.echo(wrote(out, config.report.pdf))
