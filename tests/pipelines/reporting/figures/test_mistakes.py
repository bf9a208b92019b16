"""The most confident misclassified images and missed tumours."""

from __future__ import annotations

import numpy as np
import pytest

from brain_tumor_mri.pipelines.reporting.figures.mistakes import (
    plot_misclassified,
    plot_missed_tumours,
)
from tests.helpers.figures import CLASSES, assert_titled_and_renders, texts


@pytest.mark.parametrize(
    "name",
    [
        "misclassified",
        "missed_tumours",
    ],
)
def test_figure_has_titles_labels_and_renders_to_png(figures, name) -> None:
    assert_titled_and_renders(figures[name], labelled=False)


def test_misclassified_without_mistakes_says_so(predictions) -> None:
    one_hot = np.eye(4)[predictions["labels"]]

    figure = plot_misclassified(
        predictions["images"], predictions["labels"], one_hot, CLASSES, max_images=16
    )

    assert "No misclassified images" in texts(figure)


def test_missed_tumours_figure_counts_tumours_predicted_negative() -> None:
    labels = np.array([0, 1, 2, 3])
    probabilities = np.array(
        [
            [0.1, 0.1, 0.7, 0.1],  # glioma predicted no_tumor: missed
            [0.1, 0.7, 0.1, 0.1],
            [0.1, 0.1, 0.7, 0.1],
            [0.1, 0.1, 0.6, 0.2],  # pituitary predicted no_tumor: missed
        ]
    )
    images = np.zeros((4, 8, 8, 3), np.uint8)

    figure = plot_missed_tumours(
        images, labels, probabilities, CLASSES, "no_tumor", max_images=16, split="test"
    )

    assert "2 of 3" in figure.get_suptitle()
    shown = texts(figure)
    assert "true: glioma_tumor" in shown and "true: pituitary_tumor" in shown
    assert "no_tumor: 0.70" in shown
