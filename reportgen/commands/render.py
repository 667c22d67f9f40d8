"""`reportgen render`: redraw the figures and re-render the report of an existing bundle, without torch."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
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
