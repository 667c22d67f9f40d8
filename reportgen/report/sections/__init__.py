"""The registry of report sections, in report order: numbering and contents come from this list.

Adding an analysis: one module in this package (a `Section` subclass: key, title, `applies`, `build`,
and `verdict` if the Conclusion is to state what it found; the rules it judges by live in that module),
one line below, and one test module (tests/test_section_<name>.py); docs/sections.md walks through it.
The Conclusion states the verdicts of the sections listed here, in this order.
"""

from __future__ import annotations

from reportgen.report.section import Group, Section
from reportgen.report.sections.accuracy import Accuracy
from reportgen.report.sections.architectures import Architectures
from reportgen.report.sections.attention import Attention
from reportgen.report.sections.augmentation import Augmentation
from reportgen.report.sections.calibration import Calibration
from reportgen.report.sections.conclusion import Conclusion
from reportgen.report.sections.curves import Curves
from reportgen.report.sections.data import Data
from reportgen.report.sections.data_efficiency import DataEfficiency
from reportgen.report.sections.efficiency import Efficiency
from reportgen.report.sections.errors import Errors
from reportgen.report.sections.explanations import Explanations
from reportgen.report.sections.feature_maps import FeatureMaps
from reportgen.report.sections.findings import Findings
from reportgen.report.sections.generalisation import Generalisation
from reportgen.report.sections.introduction import Introduction
from reportgen.report.sections.per_seed import PerSeed
from reportgen.report.sections.recipe import Recipe
from reportgen.report.sections.results import Results
from reportgen.report.sections.robustness import Robustness
from reportgen.report.sections.setup import Setup
from reportgen.report.sections.speed import Speed
from reportgen.report.sections.training import Training
from reportgen.report.sections.training_length import TrainingLength
from reportgen.report.sections.variants import Variants
from reportgen.report.sections.weights import EvaluatedWeights

# The chapter of the study's experiments (verify rebuilds it, as every section, from the recomputed metrics).
EXPERIMENTS = Group("experiments", "The study's claims tested", [Variants(), Augmentation(), DataEfficiency(),
                                                                  TrainingLength(), Recipe()])

SECTIONS: tuple[Section, ...] = (
    Findings(),
    Introduction(),
    Setup(),
    EvaluatedWeights(),
    Data(),
    Architectures(),
    Training(),
    Results(),
    Group("analysis", "Analysis of performance", [Accuracy(), Speed(), Efficiency(), Generalisation(), Errors(),
                                                  Calibration(), Robustness()]),
    Group("learning", "Learning behaviour", [Curves(), FeatureMaps(), Attention(), Explanations()]),
    EXPERIMENTS,
    Conclusion(),
    PerSeed(),
)
