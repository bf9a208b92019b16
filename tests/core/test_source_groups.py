"""Source groups: the first matching rule names an image's group, the group metrics
leave out small cells, and the screening criterion ranks the weakest group first."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from brain_tumor_mri.core.source_groups import (
    SCREENING_TIE_BREAK,
    assign_source_groups,
    screening_figures,
    screening_score,
    screening_scorer,
    sensitivity_standard_error,
    source_group_metrics,
)
from tests.helpers.predictions import NAMES


def test_the_first_matching_rule_names_the_group() -> None:
    table = pd.DataFrame(
        {"width": [512, 512, 256, None], "height": [512, 400, 256, None]}
    ).astype("Int64")
    rules = [
        {"name": "square_512", "match": {"width": 512, "height": 512}},
        {"name": "wide_512", "match": {"width": 512}},
    ]
    groups = assign_source_groups(table, rules, "other")
    assert groups.tolist() == ["square_512", "wide_512", "other", "other"]


def test_group_metrics_leave_out_small_cells() -> None:
    # Class 0: 30 images of group a (all right) and 3 of group b (all wrong); class 2
    # (no_tumor): 25 of group b, 20 right.
    labels = np.array([0] * 33 + [2] * 25)
    groups = np.array(["a"] * 30 + ["b"] * 3 + ["b"] * 25)
    predicted = np.array([0] * 30 + [2] * 3 + [2] * 20 + [1] * 5)
    probabilities = np.eye(4)[predicted]
    metrics = source_group_metrics(labels, probabilities, groups, NAMES, "no_tumor", 20)
    assert metrics["source_groups"]["a"] == {
        "n_samples": 30,
        "accuracy": 1.0,
        "tumours": 30,
        "tumour_sensitivity": 1.0,
    }
    assert metrics["source_groups"]["b"]["tumour_sensitivity"] == 0.0
    # The 3-image cell (glioma / b, accuracy 0) is under 20 images: not counted.
    assert metrics["worst_group_accuracy"] == pytest.approx(0.8)
    assert metrics["worst_group"] == "no_tumor / b"
    assert metrics["group_balanced_accuracy"] == pytest.approx(0.9)


def test_the_weakest_groups_tumour_sensitivity_leads_the_screening_score() -> None:
    # Group "a": 20 tumours, 18 found; group "b": 25 tumours, all found, and 5 healthy
    # slices; group "c": 3 tumours, none found, too few to count.
    labels = np.array([0] * 20 + [1] * 25 + [2] * 5 + [3] * 3)
    groups = np.array(["a"] * 20 + ["b"] * 30 + ["c"] * 3)
    predicted = labels.copy()
    predicted[:2] = 2
    predicted[-3:] = 2
    probabilities = np.eye(4)[predicted]
    metrics = source_group_metrics(labels, probabilities, groups, NAMES, "no_tumor", 20)
    assert metrics["min_group_tumour_sensitivity"] == pytest.approx(0.9)
    assert metrics["min_sensitivity_group"] == "a"
    score = screening_score(0.9, metrics["worst_group_accuracy"], 1.0, 0.75)
    assert score == pytest.approx(0.9 + SCREENING_TIE_BREAK * 0.9)
    # One more tumour found in the weakest group outweighs any cell accuracy.
    assert screening_score(0.95, 0.0, 1.0, 0.75) > screening_score(0.9, 1.0, 1.0, 0.75)
    # Calling everything a tumour finds every tumour and ranks below any passing model.
    assert screening_score(1.0, 0.0, 0.2, 0.75) == pytest.approx(-0.8)
    assert screening_score(1.0, 0.0, 0.2, 0.75) < screening_score(0.0, 0.0, 0.8, 0.75)
    # No group with enough tumours: no score, unless the specificity already fails.
    assert screening_score(None, 0.5, 0.9, 0.75) is None
    assert screening_score(None, 0.5, None, 0.75) is None


def test_a_set_smaller_than_the_group_size_is_still_scored() -> None:
    # Half of a validation split: group "a" 8 tumours, 6 found; group "b" 9 tumours,
    # all found, and 6 healthy slices, 5 called healthy; no group reaches 10 tumours,
    # so the largest group and cell count.
    labels = np.array([0] * 8 + [1] * 9 + [2] * 6)
    groups = np.array(["a"] * 8 + ["b"] * 15)
    predicted = labels.copy()
    predicted[:2] = 2
    predicted[-1] = 3
    probabilities = np.eye(4)[predicted]
    figures = screening_figures(
        labels, probabilities, groups, NAMES, "no_tumor", 10, 0.75
    )
    assert figures["min_group_tumour_sensitivity"] == pytest.approx(1.0)
    assert figures["min_group_tumours"] == 9
    assert figures["tumour_specificity"] == pytest.approx(5 / 6)
    score = screening_scorer(NAMES, "no_tumor", 10, 0.75)
    assert score(labels, probabilities, groups) == figures["screening_score"]
    # A specificity under the guard ranks below any passing head.
    assert screening_scorer(NAMES, "no_tumor", 10, 0.9)(
        labels, probabilities, groups
    ) == pytest.approx(5 / 6 - 1)


def test_a_sensitivitys_standard_error_shrinks_with_tumours_and_never_vanishes() -> (
    None
):
    # Agresti-Coull: 38 of 39 found counts as 40 of 43.
    assert sensitivity_standard_error(38 / 39, 39) == pytest.approx(
        math.sqrt((40 / 43) * (3 / 43) / 43)
    )
    # One tumour of 39 near 0.95 is within it; two are not.
    assert 1 / 39 < sensitivity_standard_error(38 / 39, 39) < 2 / 39
    assert sensitivity_standard_error(1.0, 39) > 0
    assert sensitivity_standard_error(0.9, 400) < sensitivity_standard_error(0.9, 40)
