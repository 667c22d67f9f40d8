"""One verified property of a bundle, and the kinds of checks `reportgen verify` makes."""

from __future__ import annotations

from dataclasses import dataclass, field

from reportgen.errors import one_line

# The bundle is whole and consistent: schema, manifest checksums, files readable, test labels, histories against
# run.json, weights digests, every variant's runs, a report.html that shows every model's accuracy.
INTEGRITY = "integrity"
# A number the bundle states follows from its predictions and probabilities: metrics.json recomputed from
# predictions.csv, and every number of report.html against the report rebuilt from the bundle.
NUMBERS = "numbers"
# The predictions follow from the weights (`verify --deep`): the data, the labels, re-prediction, probes.
DEEP = "deep"
KINDS = (INTEGRITY, NUMBERS, DEEP)


@dataclass
class Check:
    """One verified property of the bundle; `kind` (one of KINDS, always given by keyword) says what it is about."""

    name: str
    ok: bool
    detail: str = ""
    kind: str = field(kw_only=True)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"check kind {self.kind!r} is not one of {', '.join(KINDS)}")
        # one line each, as verify prints it: a name and a detail may hold a stranger's folder or variant name
        self.name, self.detail = one_line(self.name), one_line(self.detail)
