"""Accuracy and tumour sensitivity by split and source group."""

from __future__ import annotations

from brain_tumor_mri.pipelines.reporting.figures.source_groups import (
    group_scores,
    plot_group_accuracy,
)
from tests.helpers.figures import assert_titled_and_renders, texts

METRICS_BY_SPLIT = {
    split: {
        "worst_group_accuracy": 0.5,
        "source_groups": {
            "512px_source": {
                "n_samples": 30,
                "accuracy": 0.9,
                "tumours": 25,
                "tumour_sensitivity": 0.92,
            },
            "other_source": {
                "n_samples": 20,
                "accuracy": 0.6,
                "tumours": 5,
                "tumour_sensitivity": 0.4,
            },
        },
    }
    for split in ("val", "test")
}


def test_group_accuracy_has_titles_labels_and_renders_to_png() -> None:
    figure = plot_group_accuracy(METRICS_BY_SPLIT)

    assert_titled_and_renders(figure)
    shown = texts(figure)
    assert "512px_source" in shown and "other_source" in shown
    assert "0.60" in shown and "0.92" in shown


def test_group_scores_has_a_row_per_split_and_group() -> None:
    scores = group_scores(METRICS_BY_SPLIT)

    assert list(zip(scores["split"], scores["group"], strict=True)) == [
        ("val", "512px_source"),
        ("val", "other_source"),
        ("test", "512px_source"),
        ("test", "other_source"),
    ]


def test_no_source_groups_says_so() -> None:
    figure = plot_group_accuracy({"test": {"accuracy": 0.9}})

    assert "No source groups recorded" in texts(figure)
