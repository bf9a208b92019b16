"""Calibration figures of a split: the reliability diagram and the risk-coverage
curve of the review threshold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from brain_tumor_mri.pipelines.reporting.figures.common import split_title


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
        split_title(
            f"Reliability diagram{f', {label}' if label else ''} — "
            f"ECE {metrics['ece']:.3f} ({len(bins)} bins)",
            split,
        )
    )
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    _plot_bin_counts(bottom, lower, width, counts)
    return figure


def _plot_bin_counts(
    ax: Any, lower: np.ndarray, width: np.ndarray, counts: np.ndarray
) -> None:
    """Images per confidence bin, as bars with their counts."""
    bars = ax.bar(lower, counts, width, align="edge", edgecolor="black")
    ax.bar_label(
        bars, labels=[str(c) if c else "" for c in counts], padding=1, fontsize=7
    )
    ax.set(xlabel="Top-label confidence (probability of the predicted class)")
    ax.set_ylabel("Images")
    ax.set_ylim(0, max(1, counts.max()) * 1.25)


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
    target_accuracy = float(review["target_accuracy"])
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
    _plot_threshold(ax, review)
    ax.set(
        xlabel="Coverage (fraction of predictions kept, most confident first)",
        ylabel="Accuracy of the kept predictions",
        xlim=(0, 1.02),
        ylim=(0, 1.05),
    )
    ax.set_title(
        split_title(
            "Risk-coverage curve (confidence: highest calibrated probability)", split
        )
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    return figure


def _plot_threshold(ax: Any, review: Mapping[str, Any]) -> None:
    """The review threshold's point (coverage, accuracy), or a legend entry that says
    it flags everything."""
    threshold = float(review["confidence_threshold"])
    coverage = review.get("coverage_at_threshold")
    accuracy = review.get("accuracy_at_threshold")
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
