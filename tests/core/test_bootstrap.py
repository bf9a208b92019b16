"""Bootstrap confidence intervals of the headline metrics, over images."""

from __future__ import annotations

import json

import numpy as np
import pytest

from brain_tumor_mri.core.bootstrap import bootstrap_intervals, headline_intervals
from brain_tumor_mri.core.metrics import classification_metrics
from brain_tumor_mri.core.review_metrics import screening_metrics
from brain_tumor_mri.core.source_groups import source_group_metrics
from brain_tumor_mri.pipelines.evaluation.mlflow_metrics import flatten_for_mlflow

CLASSES = ["glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor"]
GROUPS = ("512px_source", "other_source")


def predictions(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, probabilities of a model right about 70 % of the time, and groups."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    logits = rng.normal(size=(n, 4))
    logits[np.arange(n), labels] += 1.5
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, probabilities, rng.choice(GROUPS, n)


def intervals(n: int, seed: int = 42, data_seed: int = 0, resamples: int = 1000):
    labels, probabilities, groups = predictions(n, data_seed)
    return headline_intervals(
        labels, probabilities, groups, CLASSES, "no_tumor", 20, resamples, 0.95, seed
    )


def test_the_estimates_are_those_of_the_metrics_of_the_split() -> None:
    labels, probabilities, groups = predictions(300)
    result = intervals(300)
    metrics = classification_metrics(labels, probabilities, CLASSES, ece_bins=10)
    metrics.update(screening_metrics(labels, probabilities, CLASSES, "no_tumor"))
    metrics.update(
        source_group_metrics(labels, probabilities, groups, CLASSES, "no_tumor", 20)
    )
    flat = flatten_for_mlflow(metrics, "test")

    for name, interval in result.items():
        assert interval["estimate"] == pytest.approx(flat[f"test_{name}"]), name
    assert {
        "accuracy",
        "macro_f1",
        "recall_glioma_tumor",
        "tumour_sensitivity",
        "tumour_specificity",
        "tumour_sensitivity_other_source",
        "accuracy_512px_source",
        "worst_group_accuracy",
        "group_balanced_accuracy",
        "min_group_tumour_sensitivity",
    } <= set(result)


def test_the_interval_contains_the_estimate_and_narrows_with_more_images() -> None:
    small, large = intervals(150), intervals(1500)

    for name, interval in small.items():
        assert interval["low"] <= interval["estimate"] <= interval["high"], name
        assert interval["high"] - interval["low"] > 0, name
    for name in ("accuracy", "macro_f1", "tumour_sensitivity", "recall_no_tumor"):
        width = small[name]["high"] - small[name]["low"]
        assert large[name]["high"] - large[name]["low"] < 0.6 * width, name
    # The accuracy of 150 images: the normal approximation's 95 % half-width.
    p = small["accuracy"]["estimate"]
    half_width = 1.96 * np.sqrt(p * (1 - p) / 150)
    assert small["accuracy"]["high"] - small["accuracy"]["low"] == pytest.approx(
        2 * half_width, rel=0.2
    )


def test_the_intervals_are_reproducible_with_a_seed_and_vary_with_another() -> None:
    assert intervals(200, seed=1) == intervals(200, seed=1)
    other = intervals(200, seed=2)
    assert other != intervals(200, seed=1)
    assert (
        other["accuracy"]["estimate"] == intervals(200, seed=1)["accuracy"]["estimate"]
    )


def test_a_group_without_tumours_has_no_interval_and_the_others_do() -> None:
    labels, probabilities, groups = predictions(400)
    negative = CLASSES.index("no_tumor")
    # Every tumour in 512px_source: other_source holds only no_tumor images.
    groups = np.where(labels == negative, groups, "512px_source")

    result = headline_intervals(
        labels, probabilities, groups, CLASSES, "no_tumor", 20, 500, 0.95, 0
    )

    assert result["tumour_sensitivity_other_source"] == {
        "estimate": None,
        "low": None,
        "high": None,
    }
    for name in ("accuracy_other_source", "tumour_sensitivity_512px_source"):
        assert result[name]["low"] < result[name]["high"], name
    json.dumps(result, allow_nan=False)


def test_a_metric_defined_in_too_few_resamples_has_no_interval() -> None:
    """Two tumours of a group in 100 images: about 13 % of resamples draw neither."""
    labels = np.zeros(100, np.int64)
    groups = np.zeros(100, np.int64)
    groups[:2] = 1

    def rare(labels, probabilities, groups) -> dict[str, float | None]:
        members = groups == 1
        return {
            "rare": float(labels[members].mean()) if members.any() else None,
            "always": float(labels.mean()),
        }

    result = bootstrap_intervals(rare, labels, np.ones((100, 1)), groups, 1000, 0.95, 0)

    assert result["rare"] is None
    assert result["always"] == (0.0, 0.0)
    assert bootstrap_intervals(
        rare, labels, np.ones((100, 1)), groups, 1000, 0.95, 0, min_defined=0.8
    )["rare"] == (0.0, 0.0)
