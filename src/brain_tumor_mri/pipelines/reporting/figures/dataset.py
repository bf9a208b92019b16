"""Figures of the data set: images per class and split, and the leakage audit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from brain_tumor_mri.pipelines.reporting.figures.common import no_data


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
        no_data(right, "No test images")
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
