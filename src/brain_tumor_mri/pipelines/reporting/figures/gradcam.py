"""The Grad-CAM gallery: images of one class beside their Grad-CAM overlays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure

from brain_tumor_mri.pipelines.reporting.figures.common import (
    image_caption,
    no_data,
    show_image,
)


class CamExample(NamedTuple):
    """One image of the Grad-CAM gallery and what the model made of it."""

    image: np.ndarray
    overlay: np.ndarray
    true_label: str
    predicted_label: str
    probability: float
    path: str = ""


def plot_gradcam_examples(
    class_name: str,
    correct: Sequence[CamExample],
    wrong: Sequence[CamExample],
    layer_name: str = "",
) -> Figure:
    """Images of one true class classified correctly and wrongly, each beside its
    Grad-CAM overlay, with true label, predicted label and probability."""
    rows = max(len(correct), len(wrong), 1)
    figure = Figure(figsize=(11, 2.9 * rows + 0.8), layout="constrained")
    for subfigure, examples, heading in zip(
        figure.subfigures(1, 2, wspace=0.05),
        (correct, wrong),
        ("Classified correctly", "Classified wrongly"),
        strict=True,
    ):
        subfigure.suptitle(heading)
        axes = subfigure.subplots(rows, 2, squeeze=False)
        for row in range(rows):
            if row < len(examples):
                example = examples[row]
                show_image(axes[row, 0], example.image, image_caption(*example[2:]))
                show_image(axes[row, 1], example.overlay, "Grad-CAM overlay")
            else:
                no_data(axes[row, 0], "none in the test set" if row == 0 else "")
                axes[row, 1].set_axis_off()
    layer = f" at layer {layer_name}" if layer_name else ""
    figure.suptitle(f"Grad-CAM{layer}: test images of class {class_name}")
    return figure
