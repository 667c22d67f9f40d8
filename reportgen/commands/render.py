"""`reportgen render`: redraw the figures and re-render the report of an existing bundle, without torch."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--no-pdf", is_flag=True, help="Write report.html only.")
@click.option("--tables", "tables_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Also write the report's main tables (CSV and LaTeX, as in the bundle's tables/) into this folder.")
def render(bundle, no_pdf, tables_dir):
    """Redraw the figures and re-render report.html and report.pdf of an existing BUNDLE, without
    training and without torch.

    Refuses a bundle whose results were edited since it was built (see `reportgen verify`). With
    --no-pdf, a report.pdf from an earlier rendering is removed rather than left behind, unmatched.
    summary.json (every number of the report) and tables/ (the main tables as .csv and booktabs .tex) are
    rewritten with it; --tables DIR writes the tables into DIR as well.

    \b
    Example:
      reportgen render artifacts/quick
      reportgen render artifacts/quick --no-pdf --tables paper/tables
    """
    from reportgen.rendering_files import check_render_outputs
    from reportgen.report import render_bundle

    check_render_outputs(bundle)  # a folder where report.html goes: refused before anything is written
    for path in render_bundle(bundle, pdf=not no_pdf, log=click.echo, tables=tables_dir):
        click.echo(f"wrote {path}")
