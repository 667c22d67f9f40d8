"""The bounds that size the grader's work (docs/bundle.md, "What one submission costs the grader"): each admits
its maximum, the worst case tests/worst_case.py builds and that page measures, and refuses one more in one line,
with nothing in the bundle changed. Nothing here is timed: the budget is measured by a command."""

from __future__ import annotations

import pytest

from reportgen.bundle import Bundle
from reportgen.bundle_checks import MAX_CLASSES, MAX_EPOCHS, MAX_SEEDS, MAX_TEST_IMAGES, MAX_VARIANTS
from reportgen.config_rules import SIZE_LIMITS
from tests.bundle_factory import make_bundle
from tests.test_hostile_refusals import one_line, snapshot
from tests.worst_case import REPORT_BOUNDS, worst_case_bundle, worst_config, worst_variants


def read_everything(root) -> None:
    """Read every run of the bundle as render and verify do (each file checked against its bounds)."""
    bundle = Bundle(root)
    for variant in (None, *bundle.variants()):
        for model in bundle.models():
            bundle.runs(model, variant)


def test_the_worst_case_sets_every_report_bound_at_its_maximum():
    assert REPORT_BOUNDS == {"report.calibration_bins": SIZE_LIMITS["report.calibration_bins"],
                             "report.bootstrap_resamples": SIZE_LIMITS["report.bootstrap_resamples"],
                             "report.feature_channels": SIZE_LIMITS["report.feature_channels"]}
    assert len(worst_variants()) == MAX_VARIANTS


def test_the_worst_case_shape_is_admitted(tmp_path):
    """The worst case of docs/bundle.md, with fewer test images and one variant (its full size takes minutes)."""
    root = worst_case_bundle(tmp_path / "worst", test_size=2 * MAX_CLASSES, variants=1, fill=False)
    read_everything(root)
    bundle = Bundle(root)
    assert [len(bundle.seeds(m)) for m in bundle.models()] == [MAX_SEEDS, MAX_SEEDS]
    assert len(bundle.dataset()["classes"]) == MAX_CLASSES
    assert bundle.config().report.calibration_bins == SIZE_LIMITS["report.calibration_bins"]


# Each bound at its maximum, then one over: (make_bundle options at the bound, the same one over, the refusal)
BOUNDS = {
    "test images": ({"test_size": MAX_TEST_IMAGES}, {"test_size": MAX_TEST_IMAGES + 1},
                    f"holds {MAX_TEST_IMAGES + 1:,} test images, over the {MAX_TEST_IMAGES:,} reportgen reads"),
    "epochs": ({"epochs": MAX_EPOCHS}, {"epochs": MAX_EPOCHS + 1},
               f"holds {MAX_EPOCHS + 1:,} epochs, over the {MAX_EPOCHS:,} reportgen reads"),
    "seeds": ({"seeds": tuple(range(MAX_SEEDS))}, {"seeds": tuple(range(MAX_SEEDS + 1))},
              f"holds {MAX_SEEDS + 1} seeds of runs/cnn, over the {MAX_SEEDS} reportgen reads"),
    "variants": ({"variants": worst_variants(MAX_VARIANTS)}, {"variants": worst_variants(MAX_VARIANTS + 1)},
                 f"holds the runs of {MAX_VARIANTS + 1} config variants, over the {MAX_VARIANTS} reportgen reads"),
}


@pytest.mark.parametrize("bound", list(BOUNDS))
def test_a_bound_admits_its_maximum_and_refuses_one_more_in_one_line(tmp_path, bound):
    admitted, over, refusal = BOUNDS[bound]
    small = {"models": ("cnn",), "num_classes": 2, "test_size": 20, "epochs": 2}
    read_everything(make_bundle(tmp_path / "at", **{**small, **admitted}))
    root = make_bundle(tmp_path / "over", **{**small, **over})
    before = snapshot(root)
    assert refusal in one_line("render", root, "--no-pdf")
    assert snapshot(root) == before


def test_the_worst_models_are_admitted_by_deep_verification_at_its_flops_bound():
    """docs/bundle.md measures verify --deep on WORST_MODELS: they must stay admitted, and at the bound."""
    from reportgen.models import MAX_FLOPS_PER_IMAGE, MAX_PARAMETERS, model_cost, size_problem

    for model in ("cnn", "vit"):
        parameters, flops = model_cost(model, worst_config(), 10)
        assert size_problem(model, worst_config(), 10) is None
        assert 0.95 * MAX_FLOPS_PER_IMAGE < flops <= MAX_FLOPS_PER_IMAGE and parameters <= MAX_PARAMETERS


def test_deep_verification_over_its_total_bound_is_one_failed_check_before_any_model_is_built(tmp_path, monkeypatch):
    import reportgen.evaluate
    import reportgen.report
    import reportgen.verification.deep as deep
    from tests.conftest import tiny_config, tiny_data
    from tests.test_evaluate import evaluated_bundle, stand_in_report

    data = tiny_data()
    monkeypatch.setattr(reportgen.evaluate, "load_data", lambda cfg: data)
    monkeypatch.setattr(reportgen.report, "render_report", stand_in_report)
    root = evaluated_bundle(tmp_path / "b", tiny_config(), data)
    monkeypatch.setattr(deep, "MAX_DEEP_FLOPS", 1000)  # the tiny models' re-prediction is over it
    (check,) = deep.verify_deep(root, data)  # the only check: no run's weights were loaded or re-predicted
    assert not check.ok and check.name == "deep: the re-prediction is within the bound of a deep check"
    assert "TFLOPs, over the 1e-09 reportgen spends on one bundle; not run" in check.detail


def test_a_manifest_listing_thousands_of_absent_files_fails_in_one_short_line(tmp_path):
    import hashlib
    import json

    from click.testing import CliRunner

    from reportgen.cli import main

    root = make_bundle(tmp_path / "b", models=("cnn",), num_classes=2, test_size=20, epochs=2)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"].update({f"runs/x{i}.json": hashlib.sha256(b"%d" % i).hexdigest() for i in range(20_000)})
    (root / "manifest.json").write_text(json.dumps(manifest))
    before = snapshot(root)
    result = CliRunner().invoke(main, ["verify", str(root)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    (line,) = [line for line in result.output.splitlines() if line.startswith("FAIL  manifest: no file missing")]
    assert line.endswith("and 19,990 more") and len(line) < 400
    assert snapshot(root) == before
