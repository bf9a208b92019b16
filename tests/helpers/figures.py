"""What the figure tests read off a figure, and the checks every figure passes."""

from __future__ import annotations

from matplotlib.figure import Figure

from brain_tumor_mri.pipelines.reporting.figures.common import figure_to_png

CLASSES = ["glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def texts(figure: Figure) -> str:
    """Every title, axis label, tick label, legend entry and annotation of a figure."""
    found = [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]
    return "\n".join(t for t in found if t)


def assert_titled_and_renders(figure: Figure, *, labelled: bool = True) -> None:
    """The figure has a title (of an axis or its own), axis labels where ``labelled``,
    and renders to a PNG of some substance."""
    assert isinstance(figure, Figure)
    titled = [ax for ax in figure.axes if ax.get_title()]
    assert titled or figure.get_suptitle()
    if labelled:
        assert [ax for ax in figure.axes if ax.get_xlabel() or ax.get_ylabel()]
    png = figure_to_png(figure)
    assert png.startswith(PNG_MAGIC)
    assert len(png) > 5_000
