"""Accuracy, loss and learning rate per epoch."""

from __future__ import annotations

import pytest

from brain_tumor_mri.pipelines.reporting.figures.training_curves import (
    plot_training_history,
)
from tests.helpers.figures import assert_titled_and_renders


@pytest.mark.parametrize(
    "name",
    [
        "training_history",
    ],
)
def test_figure_has_titles_labels_and_renders_to_png(figures, name) -> None:
    assert_titled_and_renders(figures[name])


def test_loss_is_on_a_log_scale_so_a_huge_first_epoch_does_not_flatten_it() -> None:
    history = {
        "epoch": [1, 2, 3],
        "loss": [2.1, 1.2, 0.9],
        "val_loss": [104.0, 1.4, 1.1],
        "accuracy": [0.4, 0.6, 0.7],
        "val_accuracy": [0.3, 0.5, 0.6],
        "learning_rate": [1e-3, 1e-3, 3e-4],
    }

    accuracy_ax, loss_ax, _ = plot_training_history(history).axes

    assert loss_ax.get_yscale() == "log"
    assert accuracy_ax.get_yscale() == "linear"
    assert "log scale" in loss_ax.get_ylabel()


def test_the_kept_epoch_is_marked_not_the_lowest_validation_loss() -> None:
    history = {
        "epoch": [1, 2, 3],
        "loss": [2.1, 1.2, 0.9],
        "val_loss": [1.5, 1.1, 1.3],
        "accuracy": [0.4, 0.6, 0.7],
        "val_accuracy": [0.3, 0.5, 0.6],
        "kept_epoch": [1, 1, 3],
    }
    accuracy_ax, loss_ax, _ = plot_training_history(history).axes
    for ax in (accuracy_ax, loss_ax):
        labels = ax.get_legend_handles_labels()[1]
        assert "kept epoch (3)" in labels
    without = {key: value for key, value in history.items() if key != "kept_epoch"}
    labels = plot_training_history(without).axes[1].get_legend_handles_labels()[1]
    assert "lowest validation loss (2)" in labels
