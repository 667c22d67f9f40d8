"""report.tables_export: the report's main tables as CSV (numbers as numbers) and booktabs LaTeX, written into
tables/ by every render, verified against the rebuilt report, and copied elsewhere by `render --tables DIR`."""

import csv
import io
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from reportgen.bundle import write_manifest
from reportgen.cli import main
from reportgen.report.kernel import Metric, Table, sentence
from reportgen.report.tables_export import LEGEND, latex_escape, table_csv, table_latex
from reportgen.verification import verify_bundle
from tests.analysis_factory import ANALYSES, AnalysisOptions
from tests.verification_helpers import STUDY_VARIANTS, failed, rendered_bundle

TABLES_CHECK = "tables/: the report's main tables (CSV and LaTeX), as recomputed from the predictions"
# per-class: both models side by side; calibration-2: every variant's calibration
MAIN = {"results", "accuracy", "per-class", "calibration", "calibration-2", "robustness", "experiments"}


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """Two seeds, every analysis, calibration and the study's variants: every main table applies."""
    return rendered_bundle(tmp_path_factory.mktemp("tables") / "b", seeds=(1, 2), variants=STUDY_VARIANTS,
                           analyses=AnalysisOptions(ANALYSES), config_overrides={"analysis.calibration": True})


def rows(path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text())))


def test_every_main_table_is_written_as_csv_and_latex(full):
    names = {p.name for p in (full / "tables").iterdir()}
    assert names == {f"{n}.{ext}" for n in MAIN for ext in ("csv", "tex")}
    (check,) = [c for c in verify_bundle(full) if c.name == TABLES_CHECK]
    assert check.ok and not failed(full)


def test_a_table_whose_section_does_not_apply_is_not_written(bundle):
    names = {p.stem for p in (bundle / "tables").iterdir()}  # one seed, no analyses, no variants
    assert {"results", "accuracy", "per-class"} <= names
    assert not names & {"robustness", "experiments"}


def test_csv_numbers_are_numbers_and_mean_std_two_columns(full):
    table = rows(full / "tables" / "accuracy.csv")
    header = table[0]
    assert header[:3] == ["seed", "CNN accuracy", "CNN accuracy std"] and "p significance" in header
    first = dict(zip(header, table[1]))
    assert float(first["CNN accuracy"]) == pytest.approx(float(first["CNN accuracy"]))
    assert "%" not in first["CNN accuracy"] and first["CNN accuracy std"] == ""
    mean = dict(zip(header, next(r for r in table if r[0].startswith("mean"))))
    assert float(mean["CNN accuracy std"]) > 0
    assert first["p significance"] in ("", "*", "**", "***")
    calibration = rows(full / "tables" / "calibration.csv")
    header = calibration[0]
    assert header[:3] == ["model", "ECE", "ECE std"] and "ECE if perfectly calibrated" in header
    assert {"MCE", "MCE std", "NLL", "NLL std", "Brier score", "Brier score std"} <= set(header)


def test_latex_is_booktabs_with_caption_marks_and_legend(full):
    tex = (full / "tables" / "accuracy.tex").read_text()
    for command in (r"\begin{table}", r"\caption{", r"\label{tab:accuracy}", r"\toprule", r"\midrule", r"\bottomrule",
                    r"\end{tabular}", latex_escape(LEGEND)):
        assert command in tex
    assert "$^{***}$" in tex or "$^{**}$" in tex or "$^{*}$" in tex
    assert r"$\pm$" in tex and r"\%" in tex
    for csv_path in (full / "tables").glob("*.csv"):  # the significance legend exactly where p-values are
        has_p = any(name.endswith("significance") for name in rows(csv_path)[0])
        assert (latex_escape(LEGEND) in csv_path.with_suffix(".tex").read_text()) == has_p, csv_path.name
    columns = tex.split(r"\begin{tabular}{")[1].split("}")[0]
    for line in tex.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines():
        if line != r"\midrule":
            assert line.endswith(r"\\") and line.count(" & ") == len(columns) - 1


def test_text_is_escaped():
    table = Table(["name_1 & 50%", "p"], [["a#b $x$ {y} ~^\\", Metric("p", 0.002, "pvalue")]], caption="R&D_α")
    tex = table_latex(table, "t")
    assert r"name\_1 \& 50\%" in tex and r"a\#b \$x\$ \{y\} \textasciitilde{}\textasciicircum{}\textbackslash{}" in tex
    assert r"\caption{R\&D\_$\alpha$}" in tex and "0.002000$^{**}$" in tex
    assert table_csv(table).splitlines() == ["name_1 & 50%,p,p significance", "a#b $x$ {y} ~^\\,0.002,**"]


def test_a_cell_with_words_stays_text_in_csv():
    table = Table(["test", "p"], [[sentence("paired t-test, t = ", Metric("t", 2.5, "statistic")),
                                   sentence("p = ", Metric("p", 0.2, "pvalue"))]], caption="c")
    assert table_csv(table).splitlines()[1] == '"paired t-test, t = 2.50",0.2,'


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex (apt-get install texlive-latex-base)")
def test_every_latex_table_compiles_in_a_minimal_document(full, tmp_path):
    body = "\n".join(p.read_text() for p in sorted((full / "tables").glob("*.tex")))
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
                                      f"{body}\n\\end{{document}}\n")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 0


def test_an_edited_table_fails_verify(bundle):
    path = bundle / "tables" / "results.csv"
    table = rows(path)
    accuracy = table[0].index("test accuracy")
    table[1][accuracy] = "99.9"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(table)
    path.write_text(out.getvalue())
    tex = bundle / "tables" / "accuracy.tex"
    tex.write_text(tex.read_text().replace(r"\toprule", r"\toprule" + "\n% edited"))
    write_manifest(bundle)
    assert failed(bundle) == [TABLES_CHECK]
    (check,) = [c for c in verify_bundle(bundle) if c.name == TABLES_CHECK]
    assert "results.csv row 1" in check.detail and "accuracy.tex" in check.detail


def test_a_table_removed_or_added_fails_verify(bundle):
    (bundle / "tables" / "results.tex").unlink()
    (bundle / "tables" / "extra.csv").write_text("a\n1\n")
    write_manifest(bundle)
    (check,) = [c for c in verify_bundle(bundle) if c.name == TABLES_CHECK]
    assert not check.ok and "results.tex: missing" in check.detail and "extra.csv" in check.detail


def test_a_bundle_without_tables_says_it_is_older(bundle):
    shutil.rmtree(bundle / "tables")
    write_manifest(bundle)
    (check,) = [c for c in verify_bundle(bundle) if c.name == TABLES_CHECK]
    assert check.ok and check.detail.startswith("not present (bundle older than")


def test_render_tables_writes_them_elsewhere_and_rewrites_the_bundle(bundle, tmp_path):
    shutil.rmtree(bundle / "tables")
    (bundle / "summary.json").unlink()
    out = tmp_path / "paper" / "tables"
    result = CliRunner().invoke(main, ["render", str(bundle), "--no-pdf", "--tables", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'results.tex'}" in result.output and f"wrote {bundle / 'summary.json'}" in result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in (bundle / "tables").iterdir())
    assert (out / "results.csv").read_text() == (bundle / "tables" / "results.csv").read_text()
    assert not failed(bundle)
