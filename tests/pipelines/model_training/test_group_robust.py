"""Group-robust training: group weights balance the class x group cells, and early
stopping keeps the epoch of the best worst-group accuracy."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from brain_tumor_mri.pipelines.model_training.group_robust import (
    GroupRobustValidation,
    group_balanced_weights,
)
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


def test_early_stopping_keeps_the_best_worst_group_epoch() -> None:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (48, 8, 8, 3), dtype=np.uint8)
    labels = np.arange(48) % 4
    cache = {
        "images": images,
        "labels": labels,
        "groups": np.array(["a", "b"] * 24),
    }
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(4)]
    )
    model.compile("adam", keras.losses.CategoricalCrossentropy(from_logits=True))
    stopping = keras.callbacks.EarlyStopping(
        monitor="val_worst_group_accuracy",
        mode="max",
        patience=10,
        restore_best_weights=True,
    )
    history = model.fit(
        images.astype("float32"),
        np.eye(4)[labels],
        epochs=3,
        verbose=0,
        callbacks=[
            GroupRobustValidation(
                cache,
                NAMES,
                negative_class=NAMES[2],
                min_images=20,
                min_specificity=0.75,
                batch_size=16,
            ),
            stopping,
        ],
    )
    worst = history.history["val_worst_group_accuracy"]
    assert len(worst) == 3
    for name in (
        "min_group_tumour_sensitivity",
        "tumour_specificity",
        "screening_score",
    ):
        assert len(history.history[f"val_{name}"]) == 3, name
    assert all(0 <= w <= 1 for w in worst)
    assert stopping.best == max(worst)
    assert history.history["val_group_balanced_accuracy"][0] >= worst[0]
