"""`reportgen grade`: many submitted bundles verified and graded into one sheet."""

from __future__ import annotations

from pathlib import Path

import click

from reportgen.commands.options import EXECUTORS
from reportgen.errors import ConfigError
from reportgen.executor_config import ExecutorConfig
from reportgen.executors import require_extra


@click.command()
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
@click.option("--gradescope", type=click.Path(file_okay=False, path_type=Path),
              help="Also write Gradescope's results.json per bundle into this folder: DIR/results.json for one "
                   "bundle (an autograder's run_autograder: --gradescope /autograder/results), else "
                   "DIR/<bundle name>/results.json. Scored by the rubric's criteria; without one, 1 point per "
                   "verification.")
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
              help="With --deep: where the verifications run: local worker processes, or one Ray task (ray) or "
                   "SLURM job (slurm) per bundle; the bundles and images must be at the same paths there.")
@click.option("--ray-address", help="With --executor ray: the Ray cluster's address.  [default: RAY_ADDRESS, else a "
                                    "Ray started on this machine]")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def grade(bundles, out, deep, data_dir, rubric, jobs, gradescope, executor, ray_address, no_progress):
    """Grade many submitted BUNDLES into one sheet: grades.csv, grades.json and grades.html.

    One row per bundle: whether it verified (and deeply, with --deep) with the first failure's
    reason, per model test accuracy and macro F1, epochs, seeds, the config keys that differ from
    the seed protocol, and flags: possible copies (identical weights, identical predictions, or
    near-identical predictions: >= 99% agreement on >= 1,000 test images with the same wrong class
    on >= 90% of the errors), naming the other bundle, numbers its predictions do not support, and
    a path that looks like another's (not Unicode NFC, or equal under NFKC), which every output then
    shows as code points (caf\\u0065\\u0301). A bundle that cannot be read gets a row that says why.
    grades.html is a sortable table.
    With --gradescope, each bundle also gets a Gradescope results.json (a test per verification and
    per rubric criterion; an unreadable bundle scores 0 and says why).

    \b
    Examples:
      reportgen grade submissions/* --out artifacts/grades
      reportgen grade submissions/* --deep --data-dir data/cifar10-jpeg --rubric rubric.yaml --out artifacts/grades
      reportgen grade submissions/* --deep --executor ray --ray-address auto --out artifacts/grades
      reportgen grade /autograder/submission --rubric rubric.yaml --out /tmp/grades --gradescope /autograder/results
    """
    if data_dir is not None and not deep:
        raise ConfigError("--data-dir goes with --deep: the other checks read only the bundles")
    if executor != "local" and not deep:
        raise ConfigError("--executor goes with --deep: the other checks read only the bundles, in seconds")
    require_extra(executor)
    if data_dir is not None:
        from reportgen.image_folder import check_layout

        check_layout(data_dir)  # before the workers load torch
    from reportgen.grading import grade_bundles, shown_names

    for path, name in zip(bundles, shown_names(bundles)):
        if not path.exists():  # named as the sheet names it: one line, told apart from the others
            click.echo(f"warning: {name.text} does not exist; its row says so (check the path)", err=True)
    settings = ExecutorConfig(kind=executor, ray_address=ray_address or "")
    for path in grade_bundles(list(bundles), out, deep=deep, data_dir=data_dir, rubric=rubric, jobs=jobs,
                              progress=not no_progress, log=click.echo, gradescope=gradescope, executor=settings):
        click.echo(f"wrote {path}")
