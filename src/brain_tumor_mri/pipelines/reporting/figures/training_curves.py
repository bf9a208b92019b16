"""Training curves: accuracy, loss and learning rate per epoch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from brain_tumor_mri.pipelines.reporting.figures.common import no_data


def plot_training_history(history: Mapping[str, Sequence[float]]) -> Figure:
    """Training and validation accuracy and loss per epoch, and the learning rate, with
    the epoch the model kept marked.

    The loss is on a log scale, so that one huge value (the first validation loss of
    a model trained from random weights can be ~100) does not flatten the rest.
    """
    epochs = list(history.get("epoch") or range(1, len(history["loss"]) + 1))
    figure = Figure(figsize=(15, 4.5), layout="constrained")
    axes = figure.subplots(1, 3)
    marked = _marked_epoch(history, epochs)
    for ax, metric, label in (
        (axes[0], "accuracy", "Accuracy"),
        (axes[1], "loss", "Loss"),
    ):
        for key, name, style in (
            (metric, "training", "o-"),
            (f"val_{metric}", "validation", "s--"),
        ):
            if history.get(key):
                ax.plot(epochs, history[key], style, label=name)
        if marked is not None:
            ax.axvline(marked[0], color="grey", linestyle=":", label=marked[1])
        ax.set(title=f"{label} per epoch", xlabel="Epoch", ylabel=label)
        if metric == "loss" and _positive(history, metric):
            ax.set_yscale("log")
            ax.set(title="Loss per epoch (log scale)", ylabel="Loss (log scale)")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    if history.get("learning_rate"):
        axes[2].plot(epochs, history["learning_rate"], "o-", color="tab:green")
        axes[2].set_yscale("log")
        axes[2].set(title="Learning rate per epoch", xlabel="Epoch")
        axes[2].set_ylabel("Learning rate (log scale)")
        axes[2].grid(alpha=0.3, which="both")
    else:
        no_data(axes[2], "No learning rate recorded")
    figure.suptitle("Training history")
    return figure


def _marked_epoch(
    history: Mapping[str, Sequence[float]], epochs: list
) -> tuple[int, str] | None:
    """The epoch the model kept (``kept_epoch``), or, in a history without it, the one
    of the lowest validation loss; and its legend."""
    if history.get("kept_epoch"):
        kept = int(history["kept_epoch"][-1])
        return kept, f"kept epoch ({kept})"
    if history.get("val_loss"):
        lowest = epochs[int(np.nanargmin(np.asarray(history["val_loss"], float)))]
        return lowest, f"lowest validation loss ({lowest})"
    return None


def _positive(history: Mapping[str, Sequence[float]], metric: str) -> bool:
    """Whether the metric has values, all of them positive (so a log scale fits)."""
    values = [
        v
        for key in (metric, f"val_{metric}")
        for v in (history.get(key) or [])
        if v is not None and np.isfinite(v)
    ]
    return bool(values) and min(values) > 0
