"""Section "Setup and reproducibility": software, hardware, seeds and the runs of the build."""

from __future__ import annotations

from typing import Any

from reportgen.report.common import run_accuracy
from reportgen.report.contents import ReportContents, has_history
from reportgen.report.kernel import (
    Cell,
    Item,
    Metric,
    Paragraph,
    Table,
    config_key,
    key_value_table,
    run_key,
    sentence,
)
from reportgen.report.section import FigureDrawer, Section

MISSING = "not recorded"


def environment_table(contents: ReportContents) -> Table:
    """Software versions, device, precision and data fingerprint of the build."""
    env: dict[str, Any] = contents.environment
    devices = sorted({f"{r.info.get('device', MISSING)} / {r.info.get('precision', MISSING)}"
                      for runs in contents.runs.values() for r in runs})
    return key_value_table([
        ("Python", str(env.get("python", MISSING))),
        ("PyTorch", str(env.get("torch", MISSING))),
        ("torchvision", str(env.get("torchvision", MISSING))),
        ("PyTorch Lightning", str(env.get("lightning", MISSING))),
        ("platform", str(env.get("platform", MISSING))),
        ("device", f"{env.get('device', MISSING)} ({env.get('device_name', MISSING)})"),
        ("CPU threads configured (train.num_threads)", configured_threads(contents)),
        ("CPU threads in effect (torch, in the process that assembled the bundle)",
         Metric("env.num_threads", int(env["num_threads"]), "count") if "num_threads" in env else MISSING),
        ("precision", str(env.get("precision", MISSING))),
        ("device / precision of the runs", ", ".join(devices)),
        ("dataset fingerprint (sha256)", str(contents.dataset.get("fingerprint", MISSING))),
    ])


def configured_threads(contents: ReportContents) -> Cell:
    """train.num_threads as configured; 0 means torch's own default (the machine's cores), said in words."""
    threads = Metric(config_key("train.num_threads"), contents.config.train.num_threads, "count")
    return sentence(threads, " (torch's default)") if threads.value == 0 else threads


def _run_row(run) -> list[Cell]:
    """Model, seed, status, test accuracy, and, for a trained run, its time and final-epoch accuracies."""
    row: list[Cell] = [run.display_name, str(run.seed), str(run.info.get("status", MISSING)),
                       sentence(run_accuracy(run), "%")]
    if not has_history(run):
        return row + ["evaluated, not trained"] + [""] * 3
    time, epochs = float(run.info["train_time_s"]), len(run.history["epoch"])
    return row + [
        Metric(run_key(run.model, run.seed, "train_time_s"), time, "seconds"),
        Metric(run_key(run.model, run.seed, "epoch_time_s"), time / epochs, "seconds"),
        sentence(Metric(run_key(run.model, run.seed, "final_train_acc"), 100 * run.history["train_acc"][-1],
                        "percent"), "%"),
        sentence(Metric(run_key(run.model, run.seed, "final_val_acc"), 100 * run.history["val_acc"][-1],
                        "percent"), "%"),
    ]


def runs_table(contents: ReportContents) -> Table:
    """One row per run (model and seed)."""
    runs = [run for model_runs in contents.runs.values() for run in model_runs]
    reused = any(run.info.get("status") == "reused" for run in runs)
    return Table(["model", "seed", "status", "test accuracy", "training time (s)", "time per epoch (s)",
                  "final train acc.", "final val. acc."], [_run_row(run) for run in runs],
                 caption="Runs in this bundle" + (" (status \"reused\": not retrained by the build that wrote this "
                                                  "bundle)." if reused else "."))


class Setup(Section):
    key = "setup"
    title = "Setup and reproducibility"
    descriptive = True

    def build(self, contents: ReportContents, figures: FigureDrawer) -> list[Item]:
        return [
            Paragraph([sentence("The software, hardware and seeds of the build are recorded below. Runs with the same "
                                "seed, data fingerprint and settings can still differ slightly across hardware and "
                                "library versions.")]),
            environment_table(contents),
            runs_table(contents),
        ]
