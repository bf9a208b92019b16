"""Figures of a run, one function each, returning a ``matplotlib.figure.Figure``.

Figures are built as ``Figure`` objects, without pyplot: nothing is shown, no global
figure list fills up, and saving renders with Agg (PNG) whatever the backend. Each has
a title, axis labels, class names, and the values on its bars and cells.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    RocCurveDisplay,
    auc,
    roc_curve,
)

PER_CLASS_BARS = ("precision", "recall", "f1")


class CamExample(NamedTuple):
    """One image of the Grad-CAM gallery and what the model made of it."""

    image: np.ndarray
    overlay: np.ndarray
    true_label: str
    predicted_label: str
    probability: float
    path: str = ""


def figure_to_png(figure: Figure, dpi: int = 100) -> bytes:
    """The figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _split_title(title: str, split: str | None) -> str:
    return f"{title} ({split})" if split else title


def _no_data(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def plot_message(message: str) -> Figure:
    """A small figure that only says ``message`` (in place of one that has no data)."""
    figure = Figure(figsize=(6, 1.5), layout="constrained")
    _no_data(figure.subplots(), message)
    return figure


def plot_training_history(history: Mapping[str, Sequence[float]]) -> Figure:
    """Training and validation accuracy and loss per epoch, and the learning rate.

    The loss is on a log scale, so that one huge value (the first validation loss of
    a model trained from random weights can be ~100) does not flatten the rest.
    """
    epochs = list(history.get("epoch") or range(1, len(history["loss"]) + 1))
    figure = Figure(figsize=(15, 4.5), layout="constrained")
    axes = figure.subplots(1, 3)
    best = None
    if history.get("val_loss"):
        best = epochs[int(np.nanargmin(np.asarray(history["val_loss"], float)))]
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
        if best is not None:
            ax.axvline(best, color="grey", linestyle=":", label=f"best epoch ({best})")
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
        _no_data(axes[2], "No learning rate recorded")
    figure.suptitle("Training history")
    return figure


def _positive(history: Mapping[str, Sequence[float]], metric: str) -> bool:
    """Whether the metric has values, all of them positive (so a log scale fits)."""
    values = [
        v
        for key in (metric, f"val_{metric}")
        for v in (history.get(key) or [])
        if v is not None and np.isfinite(v)
    ]
    return bool(values) and min(values) > 0


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
        _split_title(
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
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=float)
    one_hot = np.eye(len(class_names), dtype=int)[labels]
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
        _no_data(ax, "ROC undefined: the split holds a single class")
    skipped = [class_names[k] for k in range(len(class_names)) if k not in ranked]
    note = f" — no ROC for {', '.join(skipped)} (absent)" if skipped and ranked else ""
    ax.set(xlabel="False positive rate", ylabel="True positive rate (recall)")
    ax.set_title(_split_title(f"ROC curves, one class vs the rest{note}", split))
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
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=float)
    one_hot = np.eye(len(class_names), dtype=int)[labels]
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
        _split_title(
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
    figure.suptitle(_split_title("Confusion matrix", split))
    return figure


def plot_reliability_diagram(
    metrics: Mapping[str, Any], split: str | None = None, label: str = ""
) -> Figure:
    """Accuracy against top-label confidence per bin, with the ECE, and bin counts.

    ``label`` (``"calibrated, T=1.8"``, ``"uncalibrated"``) joins the title.
    """
    bins = metrics["reliability"]
    lower = np.array([b["lower"] for b in bins])
    width = np.array([b["upper"] - b["lower"] for b in bins])
    filled = np.array([b["count"] > 0 for b in bins], dtype=bool)
    accuracy = np.array([b["accuracy"] or 0.0 for b in bins])
    confidence = np.array([b["confidence"] or 0.0 for b in bins])
    counts = np.array([b["count"] for b in bins])
    figure = Figure(figsize=(7, 8), layout="constrained")
    top, bottom = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    top.bar(
        lower[filled],
        accuracy[filled],
        width[filled],
        align="edge",
        edgecolor="black",
        label="accuracy in bin",
    )
    top.hlines(
        confidence[filled],
        lower[filled],
        (lower + width)[filled],
        colors="tab:red",
        linewidth=3,
        label="mean confidence in bin",
    )
    top.plot([0, 1], [0, 1], "k--", label="perfect calibration")
    top.set(ylabel="Accuracy", xlim=(0, 1), ylim=(0, 1.05))
    top.set_title(
        _split_title(
            f"Reliability diagram{f', {label}' if label else ''} — "
            f"ECE {metrics['ece']:.3f} ({len(bins)} bins)",
            split,
        )
    )
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    bars = bottom.bar(lower, counts, width, align="edge", edgecolor="black")
    bottom.bar_label(
        bars, labels=[str(c) if c else "" for c in counts], padding=1, fontsize=7
    )
    bottom.set(xlabel="Top-label confidence (probability of the predicted class)")
    bottom.set_ylabel("Images")
    bottom.set_ylim(0, max(1, counts.max()) * 1.25)
    return figure


def most_confident(
    mask: np.ndarray, scores: np.ndarray, count: int | None = None
) -> np.ndarray:
    """Indices where ``mask`` is true, highest ``scores`` first (ties in index
    order), at most ``count`` of them: the examples that the figures show."""
    chosen = np.flatnonzero(mask)
    return chosen[np.argsort(-np.asarray(scores)[chosen], kind="stable")][:count]


def _show(ax: Any, image: np.ndarray, title: str) -> None:
    ax.imshow(image)
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def _caption(true: str, predicted: str, probability: float, path: str = "") -> str:
    name = f"{PurePosixPath(path).name}\n" if path else ""
    return f"{name}true: {true}\npredicted: {predicted} (p={probability:.2f})"


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
                _show(axes[row, 0], example.image, _caption(*example[2:]))
                _show(axes[row, 1], example.overlay, "Grad-CAM overlay")
            else:
                _no_data(axes[row, 0], "none in the test set" if row == 0 else "")
                axes[row, 1].set_axis_off()
    layer = f" at layer {layer_name}" if layer_name else ""
    figure.suptitle(f"Grad-CAM{layer}: test images of class {class_name}")
    return figure


def plot_misclassified(
    images: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    *,
    paths: Sequence[str] | None = None,
    max_images: int = 16,
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
        caption = _caption(
            class_names[labels[index]],
            class_names[predicted[index]],
            confidence[index],
            "" if paths is None else str(paths[index]),
        )
        _show(ax, images[index], caption)
    for ax in axes[len(wrong) :]:
        ax.set_axis_off()
    if not len(wrong):
        _no_data(axes[0], "No misclassified images")
    total = int((predicted != labels).sum())
    figure.suptitle(
        _split_title(
            f"Misclassified images: {total} of {len(labels)}, "
            f"{len(wrong)} most confident shown",
            split,
        )
    )
    return figure


def plot_class_counts(counts: pd.DataFrame) -> Figure:
    """Images per class (rows) and split (columns) as grouped bars, counts on the bars."""
    figure = Figure(figsize=(max(8, 2.5 * len(counts)), 5), layout="constrained")
    ax = figure.subplots()
    splits = list(counts.columns)
    width = 0.8 / max(1, len(splits))
    x = np.arange(len(counts))
    for i, split in enumerate(splits):
        offset = (i - (len(splits) - 1) / 2) * width
        bars = ax.bar(x + offset, counts[split].to_numpy(), width, label=split)
        ax.bar_label(bars, padding=2, fontsize=8)
    ax.set_xticks(x, list(counts.index))
    ax.set(xlabel="Class", ylabel="Images", title="Images per class and split")
    ax.set_ylim(0, max(1, counts.to_numpy().max()) * 1.15)
    ax.legend(title="Split")
    ax.grid(axis="y", alpha=0.3)
    return figure


def group_scores(metrics_by_split: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Accuracy and tumour sensitivity per split (rows) and source group, and each
    split's worst-group accuracy over its class x group cells."""
    rows = [
        {"split": split, "group": group, **values}
        for split, metrics in metrics_by_split.items()
        for group, values in metrics.get("source_groups", {}).items()
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "split",
            "group",
            "n_samples",
            "accuracy",
            "tumours",
            "tumour_sensitivity",
        ],
    )


def plot_group_accuracy(metrics_by_split: Mapping[str, Mapping[str, Any]]) -> Figure:
    """Accuracy and tumour sensitivity by split and source group, as grouped bars,
    with each split's worst-group accuracy (class x group cells) as a marker."""
    scores = group_scores(metrics_by_split)
    figure = Figure(figsize=(12, 4.5), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    if scores.empty:
        for ax in axes:
            _no_data(ax, "No source groups recorded")
        return figure
    splits = list(dict.fromkeys(scores["split"]))
    groups = sorted(set(scores["group"]))
    x = np.arange(len(splits))
    width = 0.8 / len(groups)
    for ax, metric, title in (
        (axes[0], "accuracy", "Accuracy"),
        (axes[1], "tumour_sensitivity", "Tumour sensitivity"),
    ):
        table = scores.pivot(index="split", columns="group", values=metric)
        table = table.reindex(index=splits, columns=groups).astype(float)
        for i, group in enumerate(groups):
            offset = (i - (len(groups) - 1) / 2) * width
            bars = ax.bar(
                x + offset, table[group].fillna(0).to_numpy(), width, label=group
            )
            ax.bar_label(bars, fmt="%.2f", padding=2, fontsize=7)
        ax.set_xticks(x, splits, rotation=20)
        ax.set(title=f"{title} by source group", xlabel="Split")
        ax.set_ylim(0, 1.12)
        ax.grid(axis="y", alpha=0.3)
    worst = [metrics_by_split[s].get("worst_group_accuracy") for s in splits]
    axes[0].scatter(
        x,
        [np.nan if w is None else w for w in worst],
        marker="_",
        s=600,
        color="black",
        label="worst class x group",
        zorder=3,
    )
    axes[0].set_ylabel("Fraction")
    axes[0].legend(title="Source group", fontsize=8)
    return figure


def leakage_counts(summary: Mapping[str, Any]) -> dict[str, int]:
    """The leakage audit's headline counts, by readable name."""
    exact, near = summary["exact_duplicates"], summary["near_duplicates"]
    return {
        "exact-duplicate groups": exact["groups"],
        "exact groups spanning splits": exact["groups_across_splits"],
        "exact pairs, conflicting labels": exact["label_conflict_pairs"],
        "near-duplicate pairs": near["pairs"],
        "near pairs within train": near["pairs_within_train"],
        "near pairs within test": near["pairs_within_test"],
        "near pairs across splits": near["pairs_across_splits"],
        "near pairs, conflicting labels": near["label_conflict_pairs"],
        "test images with a duplicate in train": summary[
            "test_images_with_duplicate_in_train"
        ]["total"],
    }


def plot_leakage_summary(summary: Mapping[str, Any]) -> Figure:
    """The leakage audit: duplicate counts, and test images with a duplicate in train
    per class."""
    figure = Figure(figsize=(14, 5.5), layout="constrained")
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    counts = leakage_counts(summary)
    bars = left.barh(list(counts)[::-1], list(counts.values())[::-1], color="tab:red")
    left.bar_label(bars, padding=3, fontsize=8)
    left.set(xlabel="Count", title="Exact (sha256) and near (pHash) duplicates")
    left.set_xlim(0, max(1, *counts.values()) * 1.15)
    test = summary.get("images", {}).get("test", {"per_class": {}})["per_class"]
    leaked = summary["test_images_with_duplicate_in_train"]["per_class"]
    names = sorted(set(test) | set(leaked))
    if names:
        y = np.arange(len(names))
        total = right.barh(
            y + 0.2, [test.get(n, 0) for n in names], 0.4, label="test images"
        )
        dup = right.barh(
            y - 0.2,
            [leaked.get(n, 0) for n in names],
            0.4,
            label="with a duplicate in train",
        )
        right.bar_label(total, padding=3, fontsize=8)
        right.bar_label(dup, padding=3, fontsize=8)
        right.set_yticks(y, names)
        right.set_xlim(0, max(1, *test.values(), *leaked.values()) * 1.2)
        right.legend(loc="lower right")
    else:
        _no_data(right, "No test images")
    right.set(xlabel="Images", title="Test images with a duplicate in train, per class")
    distance = summary.get("near_duplicate_max_distance")
    figure.suptitle(
        "Leakage audit"
        + (
            ""
            if distance is None
            else f" (near duplicates: pHash distance <= {distance})"
        )
    )
    return figure


def plot_risk_coverage(
    curve: Mapping[str, np.ndarray],
    review: Mapping[str, Any],
    split: str | None = None,
) -> Figure:
    """Accuracy of the predictions kept against the fraction kept (most confident
    first), the target accuracy, and the point of the review threshold.

    ``curve`` is ``calibration.risk_coverage_curve``'s; ``review`` holds the split's
    ``confidence_threshold``, ``target_accuracy``, ``coverage_at_threshold`` and
    ``accuracy_at_threshold``.
    """
    threshold = float(review["confidence_threshold"])
    target_accuracy = float(review["target_accuracy"])
    coverage = review.get("coverage_at_threshold")
    accuracy = review.get("accuracy_at_threshold")
    figure = Figure(figsize=(7.5, 5.5), layout="constrained")
    ax = figure.subplots()
    if len(curve["coverage"]):
        ax.step(
            np.r_[0.0, curve["coverage"]],
            np.r_[curve["accuracy"][0], curve["accuracy"]],
            where="pre",
            label="accuracy of the predictions kept",
        )
    ax.axhline(
        target_accuracy,
        color="tab:red",
        linestyle="--",
        label=f"target accuracy {target_accuracy:.2f} (chosen on validation)",
    )
    if coverage:
        ax.plot(
            [coverage],
            [accuracy],
            "o",
            color="black",
            markersize=8,
            label=f"threshold {threshold:.3f}: coverage {coverage:.2f}, "
            f"accuracy {accuracy:.2f}",
        )
    else:
        ax.plot([], [], " ", label=f"threshold {threshold:.3f}: everything flagged")
    ax.set(
        xlabel="Coverage (fraction of predictions kept, most confident first)",
        ylabel="Accuracy of the kept predictions",
        xlim=(0, 1.02),
        ylim=(0, 1.05),
    )
    ax.set_title(
        _split_title(
            "Risk-coverage curve (confidence: highest calibrated probability)", split
        )
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    return figure


def plot_missed_tumours(
    images: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    negative_class: str,
    *,
    paths: Sequence[str] | None = None,
    max_images: int = 16,
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
        _show(ax, images[index], f"{name}true: {class_names[labels[index]]}\n{lines}")
    for ax in axes[len(missed) :]:
        ax.set_axis_off()
    if not total:
        _no_data(axes[0], f"No tumour predicted {negative_class}")
    tumours = int((labels != negative).sum())
    figure.suptitle(
        _split_title(
            f"Missed tumours (tumour images predicted {negative_class}): {total} of "
            f"{tumours}, {len(missed)} shown",
            split,
        )
    )
    return figure
