"""Source groups: which collection an image comes from, and metrics per group.

A pooled data set whose classes come from different collections lets a model score
well by recognising the collection instead of the disease. Each image gets a
``source_group`` from configurable rules on its acquisition metadata (default: native
512x512 or not, see ``source_groups`` in conf/base/parameters.yml), and every split is
also measured per group and per class x group cell, so that such a shortcut shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def assign_source_groups(
    table: pd.DataFrame, rules: Sequence[Mapping[str, Any]], default: str
) -> np.ndarray:
    """The group of each row: the first rule whose every ``match`` value equals the
    row's column of that name, else ``default``."""
    groups = np.full(len(table), default, dtype=object)
    unassigned = np.ones(len(table), dtype=bool)
    for rule in rules:
        matches = unassigned.copy()
        for column, value in rule["match"].items():
            matches &= (table[column] == value).fillna(False).to_numpy(dtype=bool)
        groups[matches] = rule["name"]
        unassigned &= ~matches
    return groups.astype(str)


def group_cells(
    labels: np.ndarray,
    correct: np.ndarray,
    groups: np.ndarray,
    class_names: Sequence[str],
) -> pd.DataFrame:
    """One row per class x source group present: images and accuracy (the recall of
    the class within the group)."""
    frame = pd.DataFrame(
        {
            "class": np.asarray(class_names)[np.asarray(labels)],
            "group": np.asarray(groups, dtype=str),
            "correct": np.asarray(correct, dtype=bool),
        }
    )
    cells = frame.groupby(["class", "group"])["correct"].agg(["size", "mean"])
    return cells.rename(columns={"size": "images", "mean": "accuracy"}).reset_index()


def group_robust_accuracy(cells: pd.DataFrame, min_images: int) -> dict[str, Any]:
    """Worst and mean accuracy over the class x group cells with at least
    ``min_images`` images (``None`` when no cell is that large)."""
    counted = cells[cells["images"] >= min_images]
    if counted.empty:
        return {
            "worst_group_accuracy": None,
            "group_balanced_accuracy": None,
            "worst_group": None,
        }
    worst = counted.loc[counted["accuracy"].idxmin()]
    return {
        "worst_group_accuracy": float(worst["accuracy"]),
        "group_balanced_accuracy": float(counted["accuracy"].mean()),
        "worst_group": f"{worst['class']} / {worst['group']}",
    }


def source_group_metrics(  # noqa: PLR0917
    labels: np.ndarray,
    probabilities: np.ndarray,
    groups: np.ndarray,
    class_names: Sequence[str],
    negative_class: str,
    min_images: int,
) -> dict[str, Any]:
    """Accuracy and tumour sensitivity per source group, the class x group cells, and
    the worst-group and group-balanced accuracy over the cells of ``min_images``+."""
    labels = np.asarray(labels)
    groups = np.asarray(groups, dtype=str)
    predicted = np.asarray(probabilities).argmax(axis=-1)
    correct = predicted == labels
    negative = list(class_names).index(negative_class)
    per_group = {}
    for group in sorted(set(groups)):
        members = groups == group
        tumours = members & (labels != negative)
        per_group[group] = {
            "n_samples": int(members.sum()),
            "accuracy": float(correct[members].mean()),
            "tumours": int(tumours.sum()),
            "tumour_sensitivity": float((predicted[tumours] != negative).mean())
            if tumours.any()
            else None,
        }
    cells = group_cells(labels, correct, groups, class_names)
    return {
        "source_groups": per_group,
        "group_cells": cells.to_dict(orient="records"),
        "min_group_images": int(min_images),
        **group_robust_accuracy(cells, min_images),
    }
