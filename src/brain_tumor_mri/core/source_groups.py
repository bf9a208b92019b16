"""Source groups: which collection an image comes from, and metrics per group.

A pooled data set whose classes come from different collections lets a model score
well by recognising the collection instead of the disease. Each image gets a
``source_group`` from configurable rules on its acquisition metadata (default: native
512x512 or not, see ``source_groups`` in conf/base/parameters.yml), and every split is
also measured per group and per class x group cell, so that such a shortcut shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from brain_tumor_mri.core.review_metrics import screening_metrics


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


# The weight of the worst class x source group accuracy in the screening score: a
# tie-break, smaller than one tumour of 39 (val's tumours of other sources), so that
# finding more tumours in the weakest group always comes first.
SCREENING_TIE_BREAK = 0.01


def sensitivity_standard_error(sensitivity: float, tumours: int) -> float:
    """One standard error of a tumour sensitivity measured on ``tumours`` tumours.

    The Agresti-Coull estimate (two found and two missed tumours added), which, unlike
    the plain binomial one, stays above zero at a sensitivity of 0 or 1.
    """
    adjusted = (sensitivity * tumours + 2) / (tumours + 4)
    return math.sqrt(adjusted * (1 - adjusted) / (tumours + 4))


def min_group_tumour_sensitivity(
    per_group: Mapping[str, Mapping[str, Any]], min_tumours: int
) -> tuple[float | None, str | None]:
    """The lowest tumour sensitivity over the groups with ``min_tumours`` tumours or
    more, and that group (None where no group has that many)."""
    counted = {
        group: metrics["tumour_sensitivity"]
        for group, metrics in per_group.items()
        if metrics["tumours"] >= min_tumours
        and metrics["tumour_sensitivity"] is not None
    }
    if not counted:
        return None, None
    group = min(counted, key=counted.__getitem__)
    return counted[group], group


def screening_score(
    min_sensitivity: float | None,
    worst_group_accuracy: float | None,
    tumour_specificity: float | None,
    min_specificity: float,
) -> float | None:
    """The screening criterion as one number to maximise (docs/accuracy.md).

    First the lowest tumour sensitivity over the source groups, then (a tie-break of
    weight ``SCREENING_TIE_BREAK``) the worst class x source group accuracy. A model
    that calls fewer than ``min_specificity`` of the healthy images healthy finds its
    tumours by calling everything a tumour: it scores ``specificity - 1``, below any
    model that passes. None where no group holds enough tumours.
    """
    if tumour_specificity is not None and tumour_specificity < min_specificity:
        return tumour_specificity - 1.0
    if min_sensitivity is None:
        return None
    return min_sensitivity + SCREENING_TIE_BREAK * (worst_group_accuracy or 0.0)


def source_group_metrics(  # noqa: PLR0917
    labels: np.ndarray,
    probabilities: np.ndarray,
    groups: np.ndarray,
    class_names: Sequence[str],
    negative_class: str,
    min_images: int,
) -> dict[str, Any]:
    """Accuracy and tumour sensitivity per source group, the class x group cells, the
    worst-group and group-balanced accuracy over the cells of ``min_images``+, and the
    lowest tumour sensitivity over the groups of ``min_images``+ tumours."""
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
    sensitivity, weakest = min_group_tumour_sensitivity(per_group, min_images)
    return {
        "source_groups": per_group,
        "group_cells": cells.to_dict(orient="records"),
        "min_group_images": int(min_images),
        **group_robust_accuracy(cells, min_images),
        "min_group_tumour_sensitivity": sensitivity,
        "min_sensitivity_group": weakest,
    }


def group_balanced_weights(
    labels: np.ndarray, groups: np.ndarray, cap: float = math.inf
) -> np.ndarray:
    """One loss weight per image: ``n / (cells * cell size)`` for its class x source
    group cell, at most ``cap``, then scaled to a mean of 1 over the images."""
    cell = pd.Series(
        list(zip(np.asarray(labels), np.asarray(groups, dtype=str), strict=True))
    )
    sizes = cell.map(cell.value_counts()).to_numpy(dtype=float)
    weights = np.minimum(len(cell) / (cell.nunique() * sizes), cap)
    return (weights / weights.mean()).astype(np.float32)


def _largest_counts(labels: np.ndarray, groups: np.ndarray, negative: int) -> int:
    """The smaller of the largest class x group cell and the most tumours of a group,
    so that at least one cell and one group count."""
    cells = pd.Series(list(zip(labels.tolist(), groups.tolist(), strict=True)))
    largest_cell = int(cells.value_counts().max())
    tumours = pd.Series(groups[labels != negative])
    if tumours.empty:
        return largest_cell
    return min(largest_cell, int(tumours.value_counts().max()))


def screening_figures(  # noqa: PLR0917
    labels: np.ndarray,
    probabilities: np.ndarray,
    groups: np.ndarray,
    class_names: Sequence[str],
    negative_class: str,
    min_images: int,
    min_specificity: float,
) -> dict[str, float | None]:
    """The figures that choose a model on a labelled set (the validation split or a
    part of it): the group-robust accuracies, the lowest group tumour sensitivity
    and that group's tumours, the tumour specificity and the ``screening_score``.

    A set too small to hold a cell or a group of ``min_images`` counts its largest
    ones, so that a subset run is still scored.
    """
    labels = np.asarray(labels)
    groups = np.asarray(groups, dtype=str)
    negative = list(class_names).index(negative_class)
    by_group = source_group_metrics(
        labels,
        probabilities,
        groups,
        class_names,
        negative_class,
        min(min_images, _largest_counts(labels, groups, negative)),
    )
    specificity = screening_metrics(labels, probabilities, class_names, negative_class)[
        "tumour_specificity"
    ]
    weakest = by_group["min_sensitivity_group"]
    return {
        "worst_group_accuracy": by_group["worst_group_accuracy"],
        "group_balanced_accuracy": by_group["group_balanced_accuracy"],
        "min_group_tumour_sensitivity": by_group["min_group_tumour_sensitivity"],
        "min_group_tumours": by_group["source_groups"][weakest]["tumours"]
        if weakest is not None
        else None,
        "tumour_specificity": specificity,
        "screening_score": screening_score(
            by_group["min_group_tumour_sensitivity"],
            by_group["worst_group_accuracy"],
            specificity,
            min_specificity,
        ),
    }


def screening_scorer(
    class_names: Sequence[str],
    negative_class: str,
    min_images: int,
    min_specificity: float,
) -> Callable[[np.ndarray, np.ndarray, np.ndarray], float | None]:
    """``screening_figures``' ``screening_score`` as a function of (labels,
    probabilities, groups), for choosing between heads on one labelled set."""

    def score(
        labels: np.ndarray, probabilities: np.ndarray, groups: np.ndarray
    ) -> float | None:
        return screening_figures(
            labels,
            probabilities,
            groups,
            class_names,
            negative_class,
            min_images,
            min_specificity,
        )["screening_score"]

    return score
