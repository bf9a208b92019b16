"""Images per class and split, and the leakage audit."""

from __future__ import annotations

import pytest

from tests.helpers.figures import assert_titled_and_renders, texts


@pytest.mark.parametrize(
    "name",
    [
        "class_counts",
        "leakage_summary",
    ],
)
def test_figure_has_titles_labels_and_renders_to_png(figures, name) -> None:
    assert_titled_and_renders(figures[name])


def test_counts_are_written_on_bars(figures) -> None:
    assert "12" in texts(figures["class_counts"]).split("\n")
