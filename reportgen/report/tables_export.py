"""The report's main tables as CSV and LaTeX (booktabs), from the laid-out sections the report itself shows.

`main_tables` finds them among the sections' `Table` items by section key: the runs and their test accuracies
(`results`, from Setup), the accuracy significance (`accuracy`), the per-class metrics of the models
side by side (`per-class`, from Results), `calibration`, `robustness` and the experiments at a glance
(`experiments`, from Variants). A table whose section does not apply is not there, and is not written.

CSV: one column per report column, numbers as numbers (the exact value, not the printed text); a column showing
mean ± std over seeds becomes two, ``<column>`` (the mean) and ``<column> std``; a column of p-values gets a
``<column> significance`` column of marks. LaTeX: the printed texts, escaped, in a booktabs table with its
caption; p-values carry the marks of `SIGNIFICANCE` and the table ends with their legend. Torch-free.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from reportgen.bundle_files import atomic_output
from reportgen.errors import BundleError
from reportgen.report.kernel import Cell, Metric, Sentence, Subsection, Table
from reportgen.report.summary import plain_number
from reportgen.spreadsheet import spreadsheet_safe

if TYPE_CHECKING:
    from reportgen.report.section import LaidOutSection

TABLES_FOLDER = "tables"
CSV_SUFFIX, LATEX_SUFFIX = ".csv", ".tex"
TABLE_SUFFIXES = (CSV_SUFFIX, LATEX_SUFFIX)  # every file of tables/ is one of these
SIGNIFICANCE = ((0.001, "***"), (0.01, "**"), (0.05, "*"))  # p below the threshold: the mark
LEGEND = "* p < 0.05, ** p < 0.01, *** p < 0.001"


def _walk(items: Sequence[Any], keys: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Table]]:
    for item in items:
        if isinstance(item, Subsection):
            yield from _walk(item.items, (*keys, item.key))
        elif isinstance(item, Table):
            yield keys, item


def _name(keys: tuple[str, ...], table: Table) -> str | None:
    """The exported name of a table found under the section keys `keys` (outermost first), or None."""
    if not table.caption or table.kind == "kv":
        return None
    if keys[0] == "setup" and "test accuracy" in table.header:
        return "results"
    if keys[0] == "results" and table.header[:1] == ["class"]:
        model = keys[-1].removeprefix("results-") if len(keys) > 1 else ""
        return f"per-class-{model}" if model else "per-class"
    for key, name in (("accuracy", "accuracy"), ("calibration", "calibration"), ("robustness", "robustness"),
                      ("variants", "experiments")):
        if key in keys:
            return name
    return None


def main_tables(sections: Sequence[LaidOutSection]) -> list[tuple[str, Table]]:
    """(file stem, table) of the report's main tables, in report order; a second table of a name gets ``-2``."""
    found: list[tuple[str, Table]] = []
    used: dict[str, int] = {}
    for section in sections:
        for keys, table in _walk(section.items, (section.key,)):
            name = _name(keys, table)
            if name is None:
                continue
            used[name] = used.get(name, 0) + 1
            found.append((name if used[name] == 1 else f"{name}-{used[name]}", table))
    return found


# ---------------------------------------------------------------- cells


def _metrics(cell: Cell) -> list[Metric]:
    return [cell] if isinstance(cell, Metric) else cell.metrics if isinstance(cell, Sentence) else []


_DECORATION = re.compile(r"[\s%+×<>=p·−-]*")  # what may surround a number in a cell that is only that number


def cell_number(cell: Cell) -> Metric | None:
    """The one number a cell shows when it is only that number (maybe with "%", "×", "p = "), else None."""
    metrics = _metrics(cell)
    if len(metrics) != 1 or metrics[0].unit == "pvalue_bound":  # "≤ x" is exported as written, not as x
        return None
    if isinstance(cell, Sentence):
        other = "".join(p for p in cell.parts if isinstance(p, str))
        if not _DECORATION.fullmatch(other):
            return None
    return metrics[0]


def _is_stat(cell: Cell) -> bool:
    """A mean ± std cell: a sentence of two metrics joined by " ± "."""
    return isinstance(cell, Sentence) and len(cell.metrics) == 2 and " ± " in cell.parts


def cell_text(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell.text


def p_value(cell: Cell) -> float | None:
    """The p-value a cell shows (an upper bound counts as its value), if it shows one number and that is a p."""
    metrics = _metrics(cell)
    bound = len(metrics) == 1 and metrics[0].unit == "pvalue_bound"
    metric = metrics[0] if bound else cell_number(cell)
    return float(metric.value) if metric is not None and metric.unit in ("pvalue", "pvalue_bound") else None


def significance_mark(p: float) -> str:
    return next((mark for threshold, mark in SIGNIFICANCE if p < threshold), "")


def _columns(table: Table) -> tuple[list[str], list[bool], list[bool]]:
    """The header (one name per report column), and per column whether it holds a std and p-values."""
    rows = table.rows + table.footer
    width = max([len(table.header), *(len(r) for r in rows)])
    header = [table.header[i] if i < len(table.header) and table.header[i] else f"column {i + 1}" for i in range(width)]
    stds = [any(i < len(r) and _is_stat(r[i]) for r in rows) for i in range(width)]
    pvalues = [any(i < len(r) and p_value(r[i]) is not None for r in rows) for i in range(width)]
    return header, stds, pvalues


def _number(value: Any) -> int | float:
    return plain_number(value)


# ---------------------------------------------------------------- CSV


def table_csv(table: Table) -> str:
    """The table as CSV: numbers as numbers, mean ± std as two columns, p-values with a significance column."""
    header, stds, pvalues = _columns(table)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names: list[str] = []
    for name, std, p in zip(header, stds, pvalues):
        names += [name] + ([f"{name} std"] if std else []) + ([f"{name} significance"] if p else [])
    writer.writerow([spreadsheet_safe(name) for name in names])
    for row in table.rows + table.footer:
        values: list[Any] = []
        for i in range(len(header)):
            cell = row[i] if i < len(row) else ""
            number = cell_number(cell)
            if _is_stat(cell):
                mean, std = _metrics(cell)
                values += [_number(mean.value), _number(std.value)]
            else:
                values.append(spreadsheet_safe(cell_text(cell)) if number is None else _number(number.value))
                if stds[i]:
                    values.append("")
            if pvalues[i]:
                p = p_value(cell)
                values.append("" if p is None else significance_mark(p))
        writer.writerow(values)
    return out.getvalue()


def read_csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# ---------------------------------------------------------------- LaTeX

_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "±": r"$\pm$", "×": r"$\times$", "−": r"$-$", "–": "--", "—": "---", "<": r"$<$", ">": r"$>$",
                  "≤": r"$\leq$", "≥": r"$\geq$", "→": r"$\to$", "α": r"$\alpha$", "β": r"$\beta$", "μ": r"$\mu$",
                  "σ": r"$\sigma$", "χ": r"$\chi$", "²": r"\textsuperscript{2}", "·": r"$\cdot$", "…": r"\ldots{}",
                  "≈": r"$\approx$", "Δ": r"$\Delta$"}
_LATEX_PATTERN = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIAL))


def latex_escape(text: str) -> str:
    """`text` as LaTeX prints it literally (TeX's special characters and the report's symbols)."""
    return _LATEX_PATTERN.sub(lambda m: _LATEX_SPECIAL[m.group(0)], text)


def _latex_cell(cell: Cell, marks: bool) -> str:
    text = latex_escape(cell_text(cell))
    p = p_value(cell) if marks else None
    mark = significance_mark(p) if p is not None else ""
    return text + (f"$^{{{mark}}}$" if mark else "")


def table_latex(table: Table, label: str) -> str:
    """The table as a LaTeX ``table`` float with booktabs rules, its caption, and the marks' legend where it has
    p-values (needs ``\\usepackage{booktabs}``)."""
    header, _, pvalues = _columns(table)
    numeric = [any(i < len(r) and _metrics(r[i]) for r in table.rows + table.footer) for i in range(len(header))]
    spec = "".join("r" if num and i else "l" for i, num in enumerate(numeric))

    def line(cells: Sequence[str]) -> str:
        return " & ".join(cells) + r" \\"

    def row_cells(row: Sequence[Cell]) -> list[str]:
        return [_latex_cell(row[i] if i < len(row) else "", pvalues[i]) for i in range(len(header))]

    caption = latex_escape(table.caption)
    lines = [r"\begin{table}[htbp]", r"\centering", rf"\caption{{{caption}}}", rf"\label{{tab:{label}}}",
             rf"\begin{{tabular}}{{{spec}}}", r"\toprule", line([latex_escape(h) for h in header]), r"\midrule"]
    lines += [line(row_cells(row)) for row in table.rows]
    if table.footer:
        lines.append(r"\midrule")
        lines += [line(row_cells(row)) for row in table.footer]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if any(pvalues):
        lines += [r"\par\smallskip", rf"{{\footnotesize {latex_escape(LEGEND)}}}"]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- files


def table_files(sections: Sequence[LaidOutSection]) -> dict[str, str]:
    """File name -> content of every exported table: ``<name>.csv`` and ``<name>.tex``."""
    files: dict[str, str] = {}
    for name, table in main_tables(sections):
        files[f"{name}{CSV_SUFFIX}"] = table_csv(table)
        files[f"{name}{LATEX_SUFFIX}"] = table_latex(table, name)
    return files


def tables_folder(root: Path) -> Path:
    """``<root>/tables``, refusing a symbolic link (a stranger's folder must not make us write outside it)."""
    folder = root / TABLES_FOLDER
    if folder.is_symlink():
        raise BundleError(f"{folder} is a symbolic link: refusing to write tables through it")
    return folder


def write_tables(folder: Path, sections: Sequence[LaidOutSection]) -> list[Path]:
    """Write every exported table into `folder` (created), each file atomically; return the paths written."""
    if folder.is_symlink():
        raise BundleError(f"{folder} is a symbolic link: refusing to write tables through it")
    folder.mkdir(parents=True, exist_ok=True)
    files = table_files(sections)
    written = []
    for name, text in files.items():
        path = folder / name
        with atomic_output(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        written.append(path)
    return written
