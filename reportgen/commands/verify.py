"""`reportgen verify`: is a bundle intact, do its numbers follow from its predictions, and (--deep) from its weights."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reportgen.errors import ConfigError


@click.command()
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
    and compares. Runs computed in fp32 on a CPU must agree exactly (but for ties within 1e-5, on at
    most 0.1% of the images), their visuals within 1% of each map's largest value; every other run
    (bf16, fp32 on CUDA with TF32) may differ on at most 2% of the images, only where the top-2
    probabilities are within 0.05, with probabilities within 0.05 and visuals within 5%.

    \b
    Examples:
      reportgen verify artifacts/quick
      reportgen verify --deep artifacts/quick
      reportgen verify --deep submissions/alice --data-dir data/cifar10-jpeg
    """
    from reportgen.bundle import Bundle
    from reportgen.verification import deep_data_config, verify_bundle

    if data_dir is not None and not deep:
        raise ConfigError("--data-dir goes with --deep: the other checks read only the bundle")
    opened = Bundle(bundle)
    checks = verify_bundle(opened)
    if deep:
        from reportgen.image_folder import check_data_source

        data_config = deep_data_config(opened, data_dir)
        check_data_source(data_config)  # before torch loads
        from reportgen.data import load_data
        from reportgen.verification import verify_deep

        checks += verify_deep(opened, load_data(data_config))
    for check in checks:
        detail = f": {check.detail}" if check.detail else ""
        click.echo(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}{detail}")
    failed = sum(not c.ok for c in checks)
    click.echo(f"{len(checks) - failed} passed, {failed} failed")
    if failed:
        sys.exit(1)
