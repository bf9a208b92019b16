"""The Grad-CAM gallery of one class."""

from __future__ import annotations

import pytest

from tests.helpers.figures import assert_titled_and_renders


@pytest.mark.parametrize(
    "name",
    [
        "gradcam",
    ],
)
def test_figure_has_titles_labels_and_renders_to_png(figures, name) -> None:
    assert_titled_and_renders(figures[name], labelled=False)
