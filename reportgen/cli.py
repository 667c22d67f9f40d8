"""The `reportgen` command line: a thin Click layer over plain functions.

Commands that only read bundles (render, verify, compare) never import torch; torch-side modules are imported inside
the commands that train. A user's mistake ends in one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import functools
import signal
import sys
from pathlib import Path

import click

from reportgen import __version__
from reportgen.config import PRESETS, load_config, parse_override
from reportgen.errors import ConfigError, ReportgenError

DEFAULT_ARTIFACTS = Path("artifacts")


class Group(click.Group):
    """Turns ReportgenError, Ctrl-C and SIGTERM into one line and an exit code, never a traceback.

    Ctrl-C exits 130 and SIGTERM (sent by `timeout`, CI runners and schedulers) 143, as a shell's
    signalled process would; both say what the run store kept and how to resume.
    """

    def invoke(self, ctx: click.Context):
        received: list[int] = []
        previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        for signum in previous:
            signal.signal(signum, functools.partial(_interrupt, received))
        try:
            return super().invoke(ctx)
        except ReportgenError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            signum = received[0] if received else signal.SIGINT
            if _is_primary_process():
                click.echo(f"interrupted ({_SIGNAL_NAMES[signum]}){_interruption_detail(ctx, exc)}", err=True)
            sys.exit(128 + signum)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


_SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


def _interrupt(received: list[int], signum: int, frame) -> None:
    """The first signal stops the command the way Ctrl-C does (Lightning then shuts training down cleanly);
    later ones are noted only, so that they cannot break off the clean-up."""
    received.append(signum)
    if len(received) == 1:
        raise KeyboardInterrupt


def _interruption_detail(ctx: click.Context, exc: KeyboardInterrupt) -> str:
    if ctx.invoked_subcommand != "build":
        return ""
    kept = f"; {exc}" if str(exc) else ""  # reportgen.build.BuildInterrupted says what the run store kept
    return f": nothing was published{kept}; run the same command again to resume from the last completed epoch"


def _is_primary_process() -> bool:
    """False in the extra DDP processes of a build, which would repeat rank 0's message.

    Only a build starts them, and a build has imported reportgen.build (torch); other commands stay torch-free.
    """
    build_module = sys.modules.get("reportgen.build")
    return build_module is None or build_module.is_primary_process()


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="reportgen")
def main() -> None:
    """Train the seed study's CNN and Vision Transformer on CIFAR-10 and write their comparative
    report (HTML and PDF) into a results bundle.

    \b
    Quick start, offline on a CPU (the sample that ships with reportgen):
      reportgen build --preset quick
    """


@main.command()
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
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), help="Training device (train.device).")
@click.option("--seed", type=int, help="One seed (train.seeds: [N]).")
@click.option("--seeds", help="Several seeds, comma-separated, e.g. 42,43,44: every model trains once per seed.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override any config key, e.g. --set vit.depth=8 --set train.lr=5e-4 (repeatable).")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_ARTIFACTS / "runs",
              show_default=True, help="Store of completed and interrupted training runs, reused across builds.")
@click.option("--force", is_flag=True, help="Retrain every model even when a stored run matches.")
@click.option("--no-progress", is_flag=True, help="No progress bars and no per-epoch lines (quiet logs, e.g. in CI).")
def build(config_file, preset, out, data_dir, epochs, device, seed, seeds, overrides, runs_dir, force, no_progress):
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
    """
    config = load_config(preset, config_file, _collect_overrides(data_dir, epochs, device, seed, seeds, overrides))
    out = out or DEFAULT_ARTIFACTS / preset
    from reportgen.build import build as run_build  # imports torch

    outcomes = run_build(config, out, runs_dir, force=force, progress=not no_progress, log=click.echo)
    if not outcomes:  # an extra DDP process: rank 0 reports
        return
    for o in outcomes:
        variant = f"{o.variant}: " if o.variant else ""
        click.echo(f"  {variant}{o.model} seed {o.seed}: {o.status}, test accuracy {o.accuracy:.2%}, "
                   f"trained in {o.train_time_s:.1f} s")
    click.echo(f"wrote {out}/report.html" + (f" and {out}/report.pdf" if config.report.pdf else ""))


@main.command()
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
    config = load_config(preset, config_file, _collect_overrides(data_dir, None, None, None, None, overrides))
    from reportgen.evaluate import evaluate as run_evaluate  # imports torch
    from reportgen.evaluate import parse_weights

    for run in run_evaluate(parse_weights(weights), config, out, log=click.echo):
        click.echo(f"  {run.model}: test accuracy {run.accuracy:.2%}, weights sha256 {run.weights_sha256}")
    click.echo(f"wrote {out}/report.html" + (f" and {out}/report.pdf" if config.report.pdf else ""))


@main.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--no-pdf", is_flag=True, help="Write report.html only.")
def render(bundle, no_pdf):
    """Redraw the figures and re-render report.html and report.pdf of an existing BUNDLE, without
    training and without torch.

    Refuses a bundle whose results were edited since it was built (see `reportgen verify`). With
    --no-pdf, a report.pdf from an earlier rendering is removed rather than left behind, unmatched.

    \b
    Example:
      reportgen render artifacts/quick
    """
    from reportgen.report import render_bundle

    for path in render_bundle(bundle, pdf=not no_pdf, log=click.echo):
        click.echo(f"wrote {path}")


@main.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--deep", is_flag=True,
              help="Also load each run's weights (weights_only), re-predict the test set on the CPU in fp32 and "
                   "check that the stored predictions, probabilities, visuals and architecture follow from them.")
@click.option("--data-dir", type=click.Path(path_type=Path),
              help="With --deep: ImageFolder root of the images the bundle was built on.  [default: the bundle's "
                   "own source when this machine has it: the bundled sample, or CIFAR-10 from reportgen's cache]")
def verify(bundle, deep, data_dir):
    """Check that BUNDLE is intact and that every number follows from its predictions.

    Checks the schema version and the manifest's checksums of every file, recomputes every metric
    from predictions.csv and compares it with metrics.json and with the numbers shown in
    report.html. Exits 1 if anything does not hold. Opening a bundle never executes code from it.

    With --deep it also proves that the predictions come from the bundle's weights: it checks that
    the data has the bundle's dataset fingerprint (or stops with one line), rebuilds each model from
    config.yaml, loads weights.pt with torch.load(weights_only=True), re-predicts on the CPU in fp32
    and compares. Runs computed in fp32 on a CPU must agree exactly (but for ties within 1e-5);
    bf16 runs, and fp32 runs on CUDA (TF32), may differ on at most 2% of the images, only where
    the top-2 probabilities are within 0.05, with probabilities within 0.05.

    \b
    Examples:
      reportgen verify artifacts/quick
      reportgen verify --deep artifacts/quick
      reportgen verify --deep submissions/alice --data-dir data/cifar10-jpeg
    """
    from reportgen.bundle import Bundle
    from reportgen.verify import verify_bundle

    if data_dir is not None and not deep:
        raise ConfigError("--data-dir goes with --deep: the other checks read only the bundle")
    opened = Bundle(bundle)
    checks = verify_bundle(opened)
    if deep:
        from reportgen.data import load_data
        from reportgen.verify import deep_data_config, verify_deep

        checks += verify_deep(opened, load_data(deep_data_config(opened, data_dir)))
    for check in checks:
        detail = f": {check.detail}" if check.detail else ""
        click.echo(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}{detail}")
    failed = sum(not c.ok for c in checks)
    click.echo(f"{len(checks) - failed} passed, {failed} failed")
    if failed:
        sys.exit(1)


@main.command()
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_ARTIFACTS / "compare",
              show_default=True, help="Folder to write compare.html, compare.pdf and figures/ into.")
@click.option("--label", "labels", multiple=True, metavar="NAME",
              help="Name of a bundle in the text; give it once per bundle, in order.  [default: the folder names]")
@click.option("--no-pdf", is_flag=True, help="Write compare.html only.")
def compare(bundles, out, labels, no_pdf):
    """Compare two or more BUNDLES in one HTML/PDF, without training and without torch.

    Lists the bundles and their data, the config keys whose values differ, and per model the
    metric deltas against the first bundle holding it (accuracy, macro F1, training time, time per
    epoch, train-validation gap), per-class F1 and accuracy, overlaid validation curves, and
    whether each accuracy difference is statistically significant.

    \b
    Examples:
      reportgen compare artifacts/before artifacts/after
      reportgen compare a b c --label baseline --label deeper --label lr-5e-4 --out artifacts/cmp
    """
    from reportgen.compare import compare_bundles

    for path in compare_bundles(list(bundles), out, pdf=not no_pdf, labels=list(labels) or None):
        click.echo(f"wrote {path}")


@main.command()
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write grades.csv, grades.json and grades.html into.")
@click.option("--deep", is_flag=True, help="Also verify each bundle from its weights (as verify --deep), in "
                                           "parallel worker processes.")
@click.option("--data-dir", type=click.Path(path_type=Path),
              help="With --deep: ImageFolder root of the images the bundles were built on.  [default: each "
                   "bundle's own source when this machine has it]")
@click.option("--rubric", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML rubric: criteria with a field of the sheet, min/max/equals and points; adds a score.")
@click.option("--jobs", type=click.IntRange(min=1), help="Worker processes for --deep.  [default: one per CPU core]")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def grade(bundles, out, deep, data_dir, rubric, jobs, no_progress):
    """Grade many submitted BUNDLES into one sheet: grades.csv, grades.json and grades.html.

    One row per bundle: whether it verified (and deeply, with --deep) with the first failure's
    reason, per model test accuracy and macro F1, epochs, seeds, the config keys that differ from
    the seed protocol, and flags: possible copies (identical weights, identical predictions, or
    near-identical predictions: >= 99% agreement on >= 1,000 test images with the same wrong class
    on >= 90% of the errors), naming the other bundle, and numbers its predictions do not support.
    A bundle that cannot be read gets a row that says why. grades.html is a sortable table.

    \b
    Examples:
      reportgen grade submissions/* --out artifacts/grades
      reportgen grade submissions/* --deep --data-dir data/cifar10-jpeg --rubric rubric.yaml --out artifacts/grades
    """
    from reportgen.grading import grade_bundles

    if data_dir is not None and not deep:
        raise ConfigError("--data-dir goes with --deep: the other checks read only the bundles")
    for missing in (path for path in bundles if not path.exists()):
        click.echo(f"warning: {missing} does not exist; its row says so (check the path)", err=True)
    for path in grade_bundles(list(bundles), out, deep=deep, data_dir=data_dir, rubric=rubric, jobs=jobs,
                              progress=not no_progress, log=click.echo):
        click.echo(f"wrote {path}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the raw measurements as JSON (progress goes to stderr).")
@click.option("--data-dir", type=click.Path(path_type=Path),
              help="ImageFolder root to measure on.  [default: the bundled sample, 4,000 training images]")
@click.option("--batch-size", type=int, help="Batch size of both ways (train.batch_size).  [default: 1024]")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), help="Device (train.device).")
@click.option("--steps", type=click.IntRange(min=1), default=5, show_default=True,
              help="Timed training steps per model and way.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. --set train.compile=true or --set models=[cnn].")
@click.option("--quick", is_flag=True, help="A tiny smoke run (seconds): every measurement, no meaningful numbers.")
def bench(as_json, data_dir, batch_size, device, steps, overrides, quick):
    """Measure the seed notebook's pipeline against reportgen's on this machine, side by side.

    Augmented images per second (PIL transforms through a DataLoader vs batched augmentation on the
    device), training throughput per model (eager fp32 with the PIL loader vs reportgen's default
    for the device), and one epoch end to end per model; then the ratios reportgen / seed.

    \b
    Examples:
      reportgen bench
      reportgen bench --json > bench.json
      reportgen bench --device cuda --data-dir data/cifar10-jpeg
    """
    import json

    from reportgen.bench import busy_warning, format_table, run_benchmark

    collected = _collect_overrides(None, None, device, None, None, overrides)
    if batch_size is not None:
        collected["train.batch_size"] = batch_size
    config = load_config("seed", None, collected)
    log = (lambda message: click.echo(message, err=True)) if as_json else click.echo
    result = run_benchmark(config, data_dir=data_dir, steps=steps, quick=quick, log=log)
    click.echo(json.dumps(result, indent=2) if as_json else format_table(result))
    warning = busy_warning(result)
    if as_json and warning:
        click.echo(warning, err=True)  # stdout stays pure JSON


def _collect_overrides(data_dir, epochs, device, seed, seeds, overrides) -> dict:
    """Dotted-key overrides from the convenience options and --set, in that order."""
    collected: dict = {}
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


if __name__ == "__main__":
    main()
