"""The original study's claims (the notebook this tool reproduces), each tested by the section that can test it.

The original study compared its CNN and its ViT (registry keys ``cnn`` and ``vit``) and concluded the
statements below. A section that tests one returns a `ClaimFinding` (reportgen.report.section) in its
verdict, with the claim's key and a status; the Summary of findings lists every claim, and a claim
that no applicable section tested is "not tested here", with what the bundle would need to test it.
The claims are about those two architectures: they are listed only when the bundle compares them.
Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_TESTED = "supported", "contradicted", "inconclusive", "not tested here"
STATUSES = (SUPPORTED, CONTRADICTED, INCONCLUSIVE)  # what a section may return; NOT_TESTED is the Summary's default
STUDY_MODELS = ("cnn", "vit")  # the original study's two architectures, as registered in reportgen.architectures


@dataclass(frozen=True)
class Claim:
    """One claim of the original study: its key, its words (with the study's own numbers) and what tests it here."""

    key: str
    text: str
    needs: str  # what a bundle must hold for this report to test it


ORIGINAL_CLAIMS: tuple[Claim, ...] = (
    Claim("cnn-more-accurate", "The CNN is more accurate than the ViT (87.14% against 75.77% test accuracy).",
          "two models' test predictions"),
    Claim("cnn-trains-faster", "The CNN trains faster than the ViT (about 19 against 27 minutes), although it has "
          "more parameters.", "both models trained here, with the efficiency analysis"),
    Claim("vit-more-memory", "Training the ViT is more memory-intensive.", "the efficiency analysis"),
    Claim("vit-overfits", "The ViT overfits (a wide train-validation gap); the CNN overfits little.",
          "both models trained here"),
    Claim("vit-relies-on-augmentation", "The ViT relies on data augmentation: without it, its accuracy fell to "
          "about 60% (75% with it); the study trained no CNN without augmentation.",
          "a variant without augmentation (the study preset)"),
    Claim("vit-needs-more-data", "The ViT would benefit more than the CNN from a larger training set.",
          "variants at four or more training-set sizes (the study preset)"),
    Claim("vit-needs-longer-training", "The ViT's curves have not plateaued: it would benefit from more epochs.",
          "a longer-training variant (the study preset)"),
    Claim("stronger-recipe-helps-vit", "Stronger augmentation and regularisation would improve the ViT.",
          "a modern-recipe variant (the study preset)"),
    Claim("errors-within-groups", "Both models confuse animals with animals and vehicles with vehicles, rarely one "
          "with the other; cat and dog are the main confusion.", "CIFAR-10's classes"),
)
CLAIM_KEYS = frozenset(claim.key for claim in ORIGINAL_CLAIMS)
