"""Section "Training workflow": the hyperparameters as run, which split validated, and the reduced-scale note."""

from __future__ import annotations

from reportgen.report.sections.training import Training, scale_note
from tests.section_helpers import contents, numbers, tables, text


def test_hyperparameters_as_run(tmp_path):
    report = contents(tmp_path / "b", config_overrides={"train.lr": 5e-4})
    items = numbers(Training(), report)
    optimiser = tables(items)[0].rows[0][1]
    assert optimiser.text == "AdamW, learning rate 0.0005, weight decay 0.05"
    # the reduced scale is page 1's note and the Conclusion's caveat, not repeated here
    assert "original study's protocol" not in text(items) and scale_note(report) is not None


def test_scale_note_only_for_reduced_runs(tmp_path):
    note = scale_note(contents(tmp_path / "a"))
    assert note is not None and "trained for 5 epochs on 2,000 training images;" in note.text
    assert scale_note(contents(tmp_path / "b", epochs=80, train_size=50_000, test_size=100)) is None
    # The images held out for validation are the original protocol's training images too: 45,000 + 5,000 is full.
    held_out = contents(tmp_path / "c", epochs=80, train_size=45_000, test_size=100, val_size=5_000,
                        clean_gaps={"cnn": 0.01, "vit": 0.05})
    assert scale_note(held_out) is None
    short = scale_note(contents(tmp_path / "d", train_size=900, val_size=100, clean_gaps={"cnn": 0.01, "vit": 0.05}))
    assert "on 900 training images (and 100 held out for validation)" in short.text


def _rows(items) -> dict[str, str]:
    return {row[0]: row[1] if isinstance(row[1], str) else row[1].text for row in tables(items)[0].rows}


def test_the_schedule_and_loss_said_are_the_ones_that_ran(tmp_path):
    def rows(**overrides):
        return _rows(numbers(Training(), contents(tmp_path / str(len(overrides)), config_overrides=overrides)))

    seed = rows()
    assert seed["learning-rate schedule"] == "cosine annealing to 0 over 5 epochs"
    assert seed["loss"] == "cross-entropy"
    modern = rows(**{"train.warmup_epochs": 2, "train.label_smoothing": 0.1})
    assert modern["learning-rate schedule"] == ("linear warm-up over the first 2 epochs, then cosine annealing to 0 "
                                                "over the rest (5 epochs in all)")
    assert modern["loss"] == "cross-entropy with label smoothing 0.1 (the validation loss is plain cross-entropy)"


def test_the_data_pipeline_is_said_once_as_the_one_that_ran(tmp_path):
    for pipeline, words in (("fast", "batched augmentation"), ("seed", "the original study's per-image")):
        rows = tables(numbers(Training(), contents(tmp_path / pipeline,
                                                   config_overrides={"train.pipeline": pipeline})))[0].rows
        (cell,) = [row[1] for row in rows if row[0] == "data pipeline"]
        assert cell.startswith(words) and cell.count("fast") + cell.count("seed") == 1


def test_the_split_that_validated_is_said(tmp_path):
    test_split = numbers(Training(), contents(tmp_path / "t"))
    assert "validation loss and accuracy are recorded, on the test split, as the original study did" in \
        text(test_split)
    assert "these runs record no clean training accuracy" in text(test_split)
    assert _rows(test_split)["validation split"] == "the test split (as the original study)"
    held = numbers(Training(), contents(tmp_path / "h", val_size=200, clean_gaps={"cnn": 0.01, "vit": 0.05}))
    assert ("on the validation split held out of the training images (200 images, a share of 0.1 of each class, "
            "data.val_fraction), which every choice made during training reads; the test split is used once") \
        in text(held)
    assert "classifies its training images in eval mode without augmentation" in text(held)
    assert _rows(held)["validation split"] == "held out of the training images"
