"""Render a results bundle into report.html and report.pdf, reading only the bundle (no torch).

`render_report` reads the bundle once (reportgen.report.contents), lays out the sections of the
registry that apply (reportgen.report.sections, numbered by reportgen.report.section), renders
``templates/report.html.j2`` with Jinja2 (autoescaped: class names and config strings from a
stranger's bundle are text, never markup) and prints the PDF with WeasyPrint through
`BundleURLFetcher`, which serves files inside one folder and nothing else. Everything a rendering writes
(figures, report.html and .pdf, summary.json, tables) goes into a hidden folder inside the bundle first, and is
moved into place only once it is complete and the bundle with it stays within the size that reportgen reads
(reportgen.rendering_files.publish_rendered), so a failure or a refusal leaves the previous report untouched.
`render_bundle` is what `reportgen render` runs: the integrity check, the rendering (a stale PDF removed with the
rest of the earlier rendering's files) and the new manifest. reportgen.compare renders its
comparison through the same environment, fetcher and writer.
"""

from __future__ import annotations

import mimetypes
import re
import urllib.request
from importlib.resources import files
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit
from urllib.request import url2pathname

import jinja2

from reportgen import __version__
from reportgen.bundle import Bundle, atomic_output, read_bytes, write_manifest
from reportgen.bundle_files import RENDERED_FILES
from reportgen.errors import BundleError
from reportgen.rendering_files import publish_rendered, render_staging
from reportgen.report.contents import ReportContents
from reportgen.report.kernel import FigureRef, Metric, Sentence, Table
from reportgen.report.plots import FIGURE_SUFFIX
from reportgen.report.section import FigureDrawer, Group, LaidOutSection, figure_numbers, layout
from reportgen.report.sections import SECTIONS
from reportgen.report.sections.training import scale_note
from reportgen.report.summary import SUMMARY_JSON, write_summary
from reportgen.report.tables_export import TABLE_SUFFIXES, TABLES_FOLDER, tables_folder, write_tables

REPORT_HTML = "report.html"
REPORT_PDF = "report.pdf"
TEMPLATE = "report.html.j2"
CHAPTERS = frozenset(s.key for s in SECTIONS if isinstance(s, Group))  # summary.json files their numbers by child
FIGURES_FOLDER = "figures"
# What a rendering writes under figures/ and tables/, by suffix: a file of these that it did not write again is an
# earlier rendering's, and goes. ".png": the figures of bundles rendered before figures became SVG (reportgen 0.5.0).
OUTPUT_SUFFIXES = {FIGURES_FOLDER: (FIGURE_SUFFIX, ".png"), TABLES_FOLDER: TABLE_SUFFIXES}


def render_bundle(bundle_root: Path, pdf: bool = True, log: Callable[[str], None] = lambda message: None,
                  tables: Path | None = None) -> list[Path]:
    """Re-render a complete bundle's report in place, as `reportgen render` does; return the files written.

    Refuses a bundle whose results were edited since it was built (before writing anything), removes
    a report.pdf that would no longer match when `pdf` is False, and rewrites the manifest. summary.json and
    tables/ are rewritten with the report; with `tables`, the tables are also written into that folder.
    """
    root = Path(bundle_root)
    bundle = Bundle(root)  # the files checked are the files rendered: each read once (reportgen.bundle)
    bundle.require_intact_results()
    if tables is not None and Path(tables).resolve() == (root / TABLES_FOLDER).resolve():
        tables = None  # the bundle's own tables/ is written anyway
    stale_pdf = root / REPORT_PDF
    had_pdf = stale_pdf.is_file()
    written = render_report(bundle, pdf=pdf)
    written += [root / SUMMARY_JSON, *sorted(tables_folder(root).glob("*.*"))]
    if tables is not None:
        for source in sorted(tables_folder(root).glob("*.*")):
            target = Path(tables) / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(target) as tmp:
                tmp.write_bytes(read_bytes(source))
            written.append(target)
    if not pdf and had_pdf:  # removed with the earlier rendering's other files (render_report)
        log(f"removed {stale_pdf}: it was rendered before and would not match the new report.html")
    write_manifest(root)
    return written


def render_report(bundle_root: Path | Bundle, pdf: bool = True) -> list[Path]:
    """Draw the figures and write report.html (and report.pdf) into the bundle at `bundle_root` (a path, or a
    bundle already opened); return the report files.

    The bundle need not have its manifest yet: `reportgen build` renders its staged bundle first and
    writes the manifest last, so that it covers the report; `render_bundle` checks completeness itself.
    Beside the report it writes its machine-readable twin, summary.json (reportgen.report.summary), and the main
    tables as CSV and LaTeX under tables/ (reportgen.report.tables_export). All of it is rendered into a hidden
    folder first and then moved into place (see the module's docstring); the files of an earlier rendering that
    this one does not write (a figure of a section that no longer applies, a PDF with pdf=False) are removed.
    """
    bundle = bundle_root if isinstance(bundle_root, Bundle) else Bundle(bundle_root, require_complete=False)
    contents = ReportContents(bundle)
    root = contents.root.resolve()
    figures_folder(root)  # a link is refused before the work (publish_rendered checks again)
    tables_folder(root)
    with render_staging(root) as staged:
        context = build_context(contents, FigureDrawer(staged / FIGURES_FOLDER, staged))
        write_documents(render_html(context), staged / REPORT_HTML, staged / REPORT_PDF if pdf else None)
        write_summary(staged / SUMMARY_JSON, context, CHAPTERS)
        write_tables(staged / TABLES_FOLDER, context["sections"])
        publish_rendered(staged, root, is_output)
    return [root / REPORT_HTML, *([root / REPORT_PDF] if pdf else [])]


def is_output(name: str) -> bool:
    """Whether the bundle file `name` (posix path relative to the bundle) is one that rendering writes."""
    folder, _, rest = name.partition("/")
    return name in RENDERED_FILES or ("/" not in rest and Path(rest).suffix in OUTPUT_SUFFIXES.get(folder, ()))


def build_context(contents: ReportContents, figures: FigureDrawer) -> dict[str, Any]:
    """Everything the template shows: the title page and the laid-out sections of the registry."""
    sections = layout(SECTIONS, contents, figures)
    seed_count = Metric("run.seeds", len(contents.config.train.seeds), "count")
    return {
        "title": contents.config.report.title,
        "created": contents.bundle.built(),
        "reportgen_version": __version__,
        "model_names": " and ".join(f.name for f in contents.models),
        "epochs": contents.epochs,
        "seed_count": seed_count,
        "train_size": Metric("dataset.train_size", int(contents.dataset["train_size"]), "count"),
        "test_size": Metric("dataset.test_size", int(contents.dataset["test_size"]), "count"),
        "num_classes": Metric("dataset.num_classes", len(contents.class_names), "count"),
        "scale_note": scale_note(contents),
        "sections": sections,
        "figure_numbers": figure_numbers(sections),
        "contents_break": lead_fits_page_one(sections),
    }


# About how many table rows the Summary of findings and the claims fit on page 1 beside the title (a row wraps to two
# or three lines): a lead this short leaves page 1 to itself, and the contents start page 2 with a page break; a
# longer one runs onto page 2, and the contents follow it there at once rather than after a half-empty page.
LEAD_ROWS_ON_PAGE_ONE = 16


def lead_fits_page_one(sections: list[LaidOutSection]) -> bool:
    """Whether the Summary of findings (the first section, where there is one) is short enough for page 1."""
    lead = sections[0] if sections and sections[0].key == "findings" else None
    rows = 0 if lead is None else sum(len(item.rows) for item in lead.items if isinstance(item, Table))
    return rows < LEAD_ROWS_ON_PAGE_ONE


def figures_folder(root: Path) -> Path:
    """``<root>/figures``, refusing a symbolic link: a stranger's folder must not make us write outside it."""
    folder = root / FIGURES_FOLDER
    if folder.is_symlink():
        raise BundleError(f"{folder} is a symbolic link: refusing to draw figures through it")
    return folder


def write_documents(html: str, html_path: Path, pdf_path: Path | None) -> list[Path]:
    """Write `html`, and its PDF print when `pdf_path` is given, each atomically; return the paths written.

    The PDF is printed before anything is written (all or nothing), with links resolved against the
    HTML file's folder, the only folder it may read from.
    """
    outputs = [(html_path, html.encode("utf-8"))]
    if pdf_path is not None:
        outputs.append((pdf_path, html_to_pdf(html, html_path.parent)))
    for path, data in outputs:
        with atomic_output(path) as tmp:
            tmp.write_bytes(data)
    return [path for path, _ in outputs]


def resolve_inside(root: Path, url: str) -> Path:
    """The regular file inside `root` that a file: `url` names, or BundleError (symlinks are followed first)."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise BundleError(f"refusing to fetch {url}: only files inside the bundle may be used")
    path = Path(url2pathname(parts.path)).resolve()  # resolve() follows symlinks before the check
    if not path.is_relative_to(root) or not path.is_file():
        raise BundleError(f"refusing to fetch {url}: it is not a file inside the bundle {root}")
    return path


def html_to_pdf(html: str, root: Path) -> bytes:
    """Print `html` to PDF, resolving relative links against the folder `root`, the only one it may read.

    WeasyPrint is imported here, not at module level: machines that never write a PDF (a GPU box
    with `report.pdf: false`) need not have it.
    """
    import weasyprint
    from weasyprint.urls import URLFetcherResponse

    class BundleURLFetcher(weasyprint.URLFetcher):
        """Serves regular files inside `root` and refuses all else: no /etc/passwd through an <img>, no
        symlink out of the folder, no network. A data: URL (the raster image inside an SVG figure) holds its
        bytes itself, so it is decoded, never fetched."""

        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            if urlsplit(url).scheme == "data":
                with urllib.request.urlopen(url) as inline:  # urllib's data: handler: decoding only, no I/O
                    return URLFetcherResponse(url, inline.read(), {"Content-Type": inline.headers.get_content_type()})
            path = resolve_inside(root.resolve(), url)
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, read_bytes(path), {"Content-Type": content_type})

    document = weasyprint.HTML(string=html, base_url=str(root) + "/", url_fetcher=BundleURLFetcher())
    return document.write_pdf()


def _template_source(name: str) -> str:
    return (files("reportgen.templates") / name).read_text(encoding="utf-8")


def template_environment() -> jinja2.Environment:
    """Jinja2 environment over the packaged templates, autoescaping, strict about undefined names."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.tests["metric"] = lambda value: isinstance(value, Metric)
    env.tests["sentence"] = lambda value: isinstance(value, Sentence)
    env.tests["figureref"] = lambda value: isinstance(value, FigureRef)
    env.tests["numeric"] = _is_numeric
    env.tests["kind"] = lambda value, name: type(value).__name__ == name
    env.tests["paired"] = is_paired
    env.globals["paired_rows"] = paired_rows
    return env


PAIRED_FROM = 7  # rows of a label/value table from which it prints two pairs a row


def is_paired(table: Table, kind: str = "") -> bool:
    """Whether a label/value table prints two pairs a row: short values in one long column would leave half the
    page empty beside it."""
    return (kind or table.kind) == "kv" and len(table.rows) >= PAIRED_FROM


def paired_rows(table: Table, kind: str = "") -> list[list[Any]]:
    """The rows as printed: a paired table's first half on the left, its second half on the right."""
    if not is_paired(table, kind):
        return table.rows
    half = -(-len(table.rows) // 2)
    right = table.rows[half:] + [["", ""]] * (2 * half - len(table.rows))
    return [left + other for left, other in zip(table.rows[:half], right)]


def _is_numeric(cell: Any) -> bool:
    """Cells that read as a number (a metric, or a sentence starting with one after signs only: "+", "≤ ", "[", as in
    an interval) are right-aligned and kept on one line: a wrapped interval or p doubles its row's height."""
    if not isinstance(cell, Sentence):
        return isinstance(cell, Metric)
    first = next((i for i, q in enumerate(cell.parts) if not (isinstance(q, str) and _SIGNS.fullmatch(q))), None)
    return first is not None and isinstance(cell.parts[first], Metric)


_SIGNS = re.compile(r"[\s+≤<\[−-]*")  # what may precede a cell's number


def render_html(context: dict[str, Any], template: str = TEMPLATE) -> str:
    """HTML of `template` (the report's by default, from a context made by `build_context`)."""
    return template_environment().get_template(template).render(**context)
