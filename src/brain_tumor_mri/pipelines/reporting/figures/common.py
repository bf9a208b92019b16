"""Helpers that every figure module shares: rendering to PNG, titles, empty
axes, image tiles and the choice of examples."""

from __future__ import annotations

import io
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from matplotlib.figure import Figure

# The resolution of every figure: its file, its MLflow artifact and its image in the
# report are the same PNG, rendered once.
FIGURE_DPI = 100


def figure_to_png(figure: Figure) -> bytes:
    """The figure rendered as PNG bytes, at ``FIGURE_DPI``."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
    return buffer.getvalue()


def split_title(title: str, split: str | None) -> str:
    return f"{title} ({split})" if split else title


def no_data(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def plot_message(message: str) -> Figure:
    """A small figure that only says ``message`` (in place of one that has no data)."""
    figure = Figure(figsize=(6, 1.5), layout="constrained")
    no_data(figure.subplots(), message)
    return figure


def most_confident(
    mask: np.ndarray, scores: np.ndarray, count: int | None = None
) -> np.ndarray:
    """Indices where ``mask`` is true, highest ``scores`` first (ties in index
    order), at most ``count`` of them: the examples that the figures show."""
    chosen = np.flatnonzero(mask)
    return chosen[np.argsort(-np.asarray(scores)[chosen], kind="stable")][:count]


def show_image(ax: Any, image: np.ndarray, title: str) -> None:
    ax.imshow(image)
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def image_caption(true: str, predicted: str, probability: float, path: str = "") -> str:
    name = f"{PurePosixPath(path).name}\n" if path else ""
    return f"{name}true: {true}\npredicted: {predicted} (p={probability:.2f})"
