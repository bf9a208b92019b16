"""Per-class scores, ROC and precision-recall curves, confusion matrix."""

from __future__ import annotations

import pytest

from brain_tumor_mri.pipelines.reporting.figures.classification import (
    plot_precision_recall_curves,
    plot_roc_curves,
)
from brain_tumor_mri.pipelines.reporting.figures.common import figure_to_png
from tests.helpers.figures import CLASSES, PNG_MAGIC, assert_titled_and_renders, texts


@pytest.mark.parametrize(
    "name",
    [
        "per_class_metrics",
        "roc_curves",
        "pr_curves",
        "confusion_matrix",
    ],
)
def test_figure_has_titles_labels_and_renders_to_png(figures, name) -> None:
    assert_titled_and_renders(figures[name])


@pytest.mark.parametrize(
    "name", ["per_class_metrics", "roc_curves", "pr_curves", "confusion_matrix"]
)
def test_class_figures_name_every_class(figures, name) -> None:
    text = texts(figures[name])
    for class_name in CLASSES:
        assert class_name in text


def test_values_are_written_on_bars_and_cells(figures, metrics) -> None:
    bars = texts(figures["per_class_metrics"])
    assert f"{metrics['per_class']['no_tumor']['recall']:.2f}" in bars
    cells = texts(figures["confusion_matrix"]).split("\n")
    assert str(metrics["confusion_matrix"][0][0]) in cells
    assert "AUC" in texts(figures["roc_curves"])
    assert "AP" in texts(figures["pr_curves"])


def test_curves_survive_a_class_absent_from_the_split(predictions) -> None:
    keep = predictions["labels"] != 2
    labels, probabilities = (
        predictions["labels"][keep],
        predictions["probabilities"][keep],
    )

    roc = plot_roc_curves(labels, probabilities, CLASSES, "test_dedup")
    pr = plot_precision_recall_curves(labels, probabilities, CLASSES, "test_dedup")

    assert "no ROC for no_tumor" in texts(roc)
    assert figure_to_png(roc).startswith(PNG_MAGIC)
    assert figure_to_png(pr).startswith(PNG_MAGIC)
