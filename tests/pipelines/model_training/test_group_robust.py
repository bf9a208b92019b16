"""Group-robust training: group weights balance the class x group cells, and early
stopping keeps the epoch of the best worst-group accuracy."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from brain_tumor_mri.compat.keras_training_state import (
    callback_state,
    set_callback_state,
)
from brain_tumor_mri.config.shared import ScreeningParams
from brain_tumor_mri.core.source_groups import group_balanced_weights, screening_score
from brain_tumor_mri.pipelines.model_training.engine import early_stopping
from brain_tumor_mri.pipelines.model_training.group_robust import (
    GroupRobustValidation,
    ScreeningEarlyStopping,
)
from brain_tumor_mri.pipelines.model_training.params import EarlyStoppingParams
from tests.helpers.predictions import NAMES


def test_group_weights_balance_the_cells_up_to_the_cap() -> None:
    labels = np.array([0] * 60 + [1] * 30 + [1] * 10)
    groups = np.array(["a"] * 60 + ["a"] * 30 + ["b"] * 10)
    weights = group_balanced_weights(labels, groups, cap=100)
    assert weights.mean() == pytest.approx(1)
    # Each cell carries the same total weight.
    totals = [weights[:60].sum(), weights[60:90].sum(), weights[90:].sum()]
    assert totals == pytest.approx([totals[0]] * 3)
    capped = group_balanced_weights(labels, groups, cap=2)
    assert capped[90] / capped[0] == pytest.approx(2 / (100 / (3 * 60)))


def _fit_with_group_validation(
    stopping: keras.callbacks.EarlyStopping, min_specificity: float
) -> tuple[keras.Model, dict[str, list]]:
    """Three epochs of a small model on 48 random images in two groups, measured by
    GroupRobustValidation, with ``stopping`` after it."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (48, 8, 8, 3), dtype=np.uint8)
    labels = np.arange(48) % 4
    cache = {"images": images, "labels": labels, "groups": np.array(["a", "b"] * 24)}
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(4)]
    )
    model.compile("adam", keras.losses.CategoricalCrossentropy(from_logits=True))
    validation = GroupRobustValidation(
        cache,
        NAMES,
        negative_class=NAMES[2],
        min_images=20,
        min_specificity=min_specificity,
        batch_size=16,
    )
    history = model.fit(
        images.astype("float32"),
        np.eye(4)[labels],
        epochs=3,
        verbose=0,
        callbacks=[validation, stopping],
    )
    return model, history.history


def test_early_stopping_keeps_the_best_worst_group_epoch() -> None:
    stopping = keras.callbacks.EarlyStopping(
        monitor="val_worst_group_accuracy",
        mode="max",
        patience=10,
        restore_best_weights=True,
    )
    _, history = _fit_with_group_validation(stopping, min_specificity=0.75)
    worst = history["val_worst_group_accuracy"]
    assert len(worst) == 3
    for name in (
        "min_group_tumour_sensitivity",
        "min_group_tumours",
        "tumour_specificity",
        "screening_score",
    ):
        assert len(history[f"val_{name}"]) == 3, name
    assert all(0 <= w <= 1 for w in worst)
    assert stopping.best == max(worst)
    assert history["val_group_balanced_accuracy"][0] >= worst[0]


def _epoch_logs(found: int, worst: float, specificity: float = 0.9) -> dict:
    """The logs GroupRobustValidation gives an epoch of a 39-tumour weakest group."""
    return {
        "val_min_group_tumour_sensitivity": found / 39,
        "val_min_group_tumours": 39,
        "val_worst_group_accuracy": worst,
        "val_tumour_specificity": specificity,
        "val_screening_score": screening_score(found / 39, worst, specificity, 0.75),
    }


def _screening_stopping(patience: int = 100) -> ScreeningEarlyStopping:
    stopping = early_stopping(
        EarlyStoppingParams(
            monitor="val_screening_score",
            mode="max",
            patience=patience,
            min_delta=0.001,
            restore_best_weights=True,
        ),
        ScreeningParams(min_specificity=0.75, sensitivity_ties="standard_error"),
    )
    assert isinstance(stopping, ScreeningEarlyStopping)
    stopping.set_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    stopping.on_train_begin()
    return stopping


def _kept_epochs(stopping: ScreeningEarlyStopping, epochs: list[dict]) -> list[int]:
    kept = []
    for epoch, logs in enumerate(epochs):
        stopping.on_epoch_end(epoch, logs)
        kept.append(stopping.best_epoch + 1)
    return kept


def test_sensitivities_within_a_standard_error_tie_and_the_worst_cell_decides() -> None:
    # The pattern of run ec64d837's epochs 27, 29 and 33: one tumour fewer of 39, a
    # far better worst cell.
    epochs = [
        _epoch_logs(38, 0.76),
        _epoch_logs(37, 0.92),  # one tumour fewer: a tie; the better cell wins
        _epoch_logs(36, 0.99),  # two fewer than the best: not eligible
        _epoch_logs(37, 0.93),  # a tie, better by more than min_delta
        _epoch_logs(38, 0.93),  # a tie, and the cell is not better: kept stays
        _epoch_logs(39, 0.40),  # a new best by more than a standard error: 37 is out
        _epoch_logs(39, 0.90, specificity=0.5),  # fails the specificity guard
    ]
    assert _kept_epochs(_screening_stopping(), epochs) == [1, 2, 2, 4, 4, 6, 6]


def test_exact_ties_leave_keras_early_stopping_on_the_score() -> None:
    params = EarlyStoppingParams(monitor="val_screening_score", patience=3)
    for screening in (
        ScreeningParams(min_specificity=0.75),
        ScreeningParams(min_specificity=0.75, sensitivity_ties="exact"),
    ):
        stopping = early_stopping(params, screening)
        assert type(stopping) is keras.callbacks.EarlyStopping
    other = EarlyStoppingParams(monitor="val_loss", patience=3)
    standard = ScreeningParams(min_specificity=0.75, sensitivity_ties="standard_error")
    assert type(early_stopping(other, standard)) is keras.callbacks.EarlyStopping


def test_screening_stopping_passes_the_guard_first_and_stops_on_patience() -> None:
    stopping = _screening_stopping(patience=2)
    epochs = [
        _epoch_logs(39, 0.9, specificity=0.3),
        _epoch_logs(39, 0.9, specificity=0.5),  # a higher score, both fail the guard
        _epoch_logs(20, 0.1),  # passes: kept, however few tumours it finds
        _epoch_logs(19, 0.2),  # within a standard error of 20 of 39, better cell
        _epoch_logs(10, 0.9),
        _epoch_logs(11, 0.9),
    ]
    assert _kept_epochs(stopping, epochs) == [1, 2, 3, 4, 4, 4]
    assert stopping.model.stop_training
    assert stopping.stopped_epoch == 5
    assert stopping.best == pytest.approx(epochs[3]["val_screening_score"])


def test_screening_stopping_resumes_from_its_saved_state() -> None:
    epochs = [_epoch_logs(38, 0.76), _epoch_logs(39, 0.5), _epoch_logs(38, 0.95)]
    whole = _screening_stopping()
    _kept_epochs(whole, epochs)
    first = _screening_stopping()
    _kept_epochs(first, epochs[:2])
    resumed = _screening_stopping()
    set_callback_state(resumed, callback_state(first))
    assert "most_sensitive" in callback_state(first)
    resumed.on_epoch_end(2, epochs[2])
    assert resumed.best_epoch == whole.best_epoch == 2
    assert callback_state(resumed) == callback_state(whole)


def test_screening_stopping_reads_the_logs_of_group_robust_validation() -> None:
    stopping = early_stopping(
        EarlyStoppingParams(
            monitor="val_screening_score", patience=10, restore_best_weights=True
        ),
        ScreeningParams(min_specificity=0.0, sensitivity_ties="standard_error"),
    )
    model, history = _fit_with_group_validation(stopping, min_specificity=0.0)
    scores = history["val_screening_score"]
    assert stopping.kept is not None
    assert stopping.best == scores[stopping.best_epoch]
    # Group "a" holds the 12 gliomas, group "b" the 24 other tumours: the count is
    # the weakest group's.
    assert set(history["val_min_group_tumours"]) <= {12, 24}
    for found, tumours in zip(
        history["val_min_group_tumour_sensitivity"],
        history["val_min_group_tumours"],
        strict=True,
    ):
        assert (found * tumours) == pytest.approx(round(found * tumours))
    kept = stopping.best_weights
    assert all(
        np.array_equal(a, b) for a, b in zip(model.get_weights(), kept, strict=True)
    )
