"""Galleries of a split's mistakes: the most confident misclassified images and
the missed tumours."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

import numpy as np
from matplotlib.figure import Figure

from brain_tumor_mri.pipelines.reporting.figures.common import (
    image_caption,
    most_confident,
    no_data,
    show_image,
    split_title,
)


def plot_misclassified(
    images: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    *,
    paths: Sequence[str] | None = None,
    max_images: int,
    split: str | None = None,
) -> Figure:
    """The most confident mistakes, with true label, prediction and its probability."""
    labels = np.asarray(labels)
    predicted = np.asarray(probabilities).argmax(axis=1)
    confidence = np.asarray(probabilities).max(axis=1)
    wrong = most_confident(predicted != labels, confidence, max_images)
    columns = min(4, max(1, len(wrong)))
    rows = max(1, int(np.ceil(len(wrong) / columns)))
    figure = Figure(figsize=(3.2 * columns, 3.4 * rows + 0.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False).ravel())
    for ax, index in zip(axes, wrong, strict=False):
        caption = image_caption(
            class_names[labels[index]],
            class_names[predicted[index]],
            confidence[index],
            "" if paths is None else str(paths[index]),
        )
        show_image(ax, images[index], caption)
    for ax in axes[len(wrong) :]:
        ax.set_axis_off()
    if not len(wrong):
        no_data(axes[0], "No misclassified images")
    total = int((predicted != labels).sum())
    figure.suptitle(
        split_title(
            f"Misclassified images: {total} of {len(labels)}, "
            f"{len(wrong)} most confident shown",
            split,
        )
    )
    return figure


def plot_missed_tumours(
    images: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    negative_class: str,
    *,
    paths: Sequence[str] | None = None,
    max_images: int,
    split: str | None = None,
) -> Figure:
    """Tumour images predicted ``negative_class``, most confident first, each with its
    true class and the probability of every class."""
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities)
    negative = list(class_names).index(negative_class)
    predicted = probabilities.argmax(axis=1)
    is_missed = (labels != negative) & (predicted == negative)
    total = int(is_missed.sum())
    missed = most_confident(is_missed, probabilities[:, negative], max_images)
    columns = min(4, max(1, len(missed)))
    rows = max(1, int(np.ceil(len(missed) / columns)))
    figure = Figure(figsize=(3.4 * columns, 4.0 * rows + 0.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False).ravel())
    for ax, index in zip(axes, missed, strict=False):
        name = f"{PurePosixPath(str(paths[index])).name}\n" if paths is not None else ""
        lines = "\n".join(
            f"{c}: {p:.2f}"
            for c, p in zip(class_names, probabilities[index], strict=True)
        )
        show_image(
            ax, images[index], f"{name}true: {class_names[labels[index]]}\n{lines}"
        )
    for ax in axes[len(missed) :]:
        ax.set_axis_off()
    if not total:
        no_data(axes[0], f"No tumour predicted {negative_class}")
    tumours = int((labels != negative).sum())
    figure.suptitle(
        split_title(
            f"Missed tumours (tumour images predicted {negative_class}): {total} of "
            f"{tumours}, {len(missed)} shown",
            split,
        )
    )
    return figure
