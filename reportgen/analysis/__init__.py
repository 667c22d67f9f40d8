"""Build-time analyses of a trained run: computational cost, robustness to corruptions, explanations.

Each analysis is plain functions over a model and the test images (`efficiency`, `robustness`,
`explanations`; the corruption suite itself, `corruptions`, needs only numpy and Pillow). `store`
computes an analysis once per run and analysis settings, keeps its result in the run store next to
the run, and copies it into the bundle, where the report's sections read it without torch.
Importing this package imports no torch: the modules that need it import it themselves.
"""

# Images per forward pass when an analysis predicts many images (the corruption suite, the deletion curves):
# on CPUs a batch of this size runs 2-4x faster per image than a training batch of 128, and the predictions
# do not depend on it beyond floating-point rounding.
INFERENCE_BATCH = 1000
