"""Classification figures of a split: per-class scores, ROC and precision-recall
curves, confusion matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    RocCurveDisplay,
    auc,
    roc_curve,
)

from brain_tumor_mri.pipelines.reporting.figures.common import no_data, split_title

PER_CLASS_BARS = ("precision", "recall", "f1")


def plot_per_class_metrics(
    metrics: Mapping[str, Any], split: str | None = None
) -> Figure:
    """Precision, recall and F1 of each class as grouped bars, values on the bars."""
    names = list(metrics["per_class"])
    figure = Figure(figsize=(max(8, 2.2 * len(names)), 5), layout="constrained")
    ax = figure.subplots()
    width = 0.8 / len(PER_CLASS_BARS)
    x = np.arange(len(names))
    for i, metric in enumerate(PER_CLASS_BARS):
        values = [metrics["per_class"][name][metric] for name in names]
        bars = ax.bar(
            x + (i - 1) * width,
            [0.0 if v is None else v for v in values],
            width,
            label=metric if metric != "f1" else "F1",
        )
        ax.bar_label(
            bars,
            labels=["n/a" if v is None else f"{v:.2f}" for v in values],
            padding=2,
            fontsize=8,
        )
    ax.set_xticks(x, [f"{n}\n(n={metrics['per_class'][n]['support']})" for n in names])
    ax.set_ylim(0, 1.12)
    ax.set(xlabel="Class (number of images)", ylabel="Score")
    ax.set_title(
        split_title(
            f"Per-class precision, recall and F1 — accuracy "
            f"{metrics['accuracy']:.3f}, macro F1 {metrics['macro_avg']['f1']:.3f}",
            split,
        )
    )
    ax.legend(loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    return figure


def _macro_roc(
    one_hot: np.ndarray, probabilities: np.ndarray, classes: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the per-class ROC curves, interpolated on a common false-positive grid."""
    grid = np.linspace(0.0, 1.0, 201)
    curves = []
    for k in classes:
        fpr, tpr, _ = roc_curve(one_hot[:, k], probabilities[:, k])
        curves.append(np.interp(grid, fpr, tpr))
    mean = np.mean(curves, axis=0)
    mean[0] = 0.0
    return grid, mean


def _one_vs_rest(
    labels: np.ndarray, probabilities: np.ndarray, class_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The labels, the probabilities as floats, and the labels one-hot encoded."""
    labels = np.asarray(labels)
    one_hot = np.eye(len(class_names), dtype=int)[labels]
    return labels, np.asarray(probabilities, dtype=float), one_hot


def _ranked_classes(labels: np.ndarray, num_classes: int) -> list[int]:
    """Classes with both positives and negatives in the split."""
    counts = np.bincount(labels, minlength=num_classes)
    return [k for k in range(num_classes) if 0 < counts[k] < len(labels)]


def plot_roc_curves(
    labels: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    split: str | None = None,
) -> Figure:
    """One-vs-rest ROC curve of each class, AUC in the legend, micro and macro average."""
    labels, probabilities, one_hot = _one_vs_rest(labels, probabilities, class_names)
    figure = Figure(figsize=(7.5, 6.5), layout="constrained")
    ax = figure.subplots()
    ranked = _ranked_classes(labels, len(class_names))
    for k in ranked:
        RocCurveDisplay.from_predictions(
            one_hot[:, k], probabilities[:, k], name=class_names[k], ax=ax
        )
    if ranked:
        RocCurveDisplay.from_predictions(
            one_hot.ravel(),
            probabilities.ravel(),
            name="micro average",
            ax=ax,
            curve_kwargs={"linestyle": ":", "linewidth": 3, "color": "black"},
        )
        grid, mean = _macro_roc(one_hot, probabilities, ranked)
        RocCurveDisplay(fpr=grid, tpr=mean, roc_auc=auc(grid, mean)).plot(
            ax=ax,
            name="macro average",
            curve_kwargs={"linestyle": "--", "linewidth": 3, "color": "grey"},
            plot_chance_level=True,
        )
    else:
        no_data(ax, "ROC undefined: the split holds a single class")
    skipped = [class_names[k] for k in range(len(class_names)) if k not in ranked]
    note = f" — no ROC for {', '.join(skipped)} (absent)" if skipped and ranked else ""
    ax.set(xlabel="False positive rate", ylabel="True positive rate (recall)")
    ax.set_title(split_title(f"ROC curves, one class vs the rest{note}", split))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return figure


def plot_precision_recall_curves(
    labels: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    split: str | None = None,
) -> Figure:
    """Precision-recall curve of each class, average precision in the legend."""
    labels, probabilities, one_hot = _one_vs_rest(labels, probabilities, class_names)
    figure = Figure(figsize=(7.5, 6.5), layout="constrained")
    ax = figure.subplots()
    present = [k for k in range(len(class_names)) if one_hot[:, k].any()]
    for k in present:
        PrecisionRecallDisplay.from_predictions(
            one_hot[:, k], probabilities[:, k], name=class_names[k], ax=ax
        )
    PrecisionRecallDisplay.from_predictions(
        one_hot.ravel(),
        probabilities.ravel(),
        name="micro average",
        ax=ax,
        curve_kwargs={"linestyle": ":", "linewidth": 3, "color": "black"},
    )
    ax.set(xlabel="Recall", ylabel="Precision", xlim=(0, 1.01), ylim=(0, 1.05))
    ax.set_title(
        split_title(
            "Precision-recall curves, one class vs the rest (AP: average precision)",
            split,
        )
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    return figure


def plot_confusion_matrices(
    confusion: np.ndarray | Sequence[Sequence[int]],
    class_names: Sequence[str],
    split: str | None = None,
) -> Figure:
    """The confusion matrix as counts and normalised by row (true class)."""
    counts = np.asarray(confusion, dtype=int)
    totals = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    size = max(5.5, 1.3 * len(class_names) + 2)
    figure = Figure(figsize=(2 * size, size), layout="constrained")
    axes = figure.subplots(1, 2)
    for ax, matrix, fmt, title in (
        (axes[0], counts, "d", "Counts"),
        (axes[1], normalised, ".2f", "Normalised by true class (recall on diagonal)"),
    ):
        ConfusionMatrixDisplay(matrix, display_labels=list(class_names)).plot(
            ax=ax, values_format=fmt, cmap="Blues", colorbar=False, xticks_rotation=30
        )
        ax.set(title=title, xlabel="Predicted class", ylabel="True class")
    figure.suptitle(split_title("Confusion matrix", split))
    return figure
