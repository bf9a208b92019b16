"""The reliability diagram and the risk-coverage curve."""

from __future__ import annotations

import pytest

from tests.helpers.figures import assert_titled_and_renders, texts


@pytest.mark.parametrize(
    "name",
    [
        "reliability",
        "risk_coverage",
    ],
)
def test_figure_has_titles_labels_and_renders_to_png(figures, name) -> None:
    assert_titled_and_renders(figures[name])


def test_reliability_diagram_gives_the_ece(figures, metrics) -> None:
    assert f"{metrics['ece']:.3f}" in texts(figures["reliability"])
