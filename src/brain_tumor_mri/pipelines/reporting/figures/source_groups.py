"""The model per source group: accuracy and tumour sensitivity by split and group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from brain_tumor_mri.pipelines.reporting.figures.common import no_data


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
            no_data(ax, "No source groups recorded")
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
