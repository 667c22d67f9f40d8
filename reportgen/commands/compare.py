"""`reportgen compare`: two or more bundles side by side in one HTML/PDF, without torch."""

from __future__ import annotations

from pathlib import Path

import click

from reportgen.commands.options import DEFAULT_ARTIFACTS


@click.command()
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
