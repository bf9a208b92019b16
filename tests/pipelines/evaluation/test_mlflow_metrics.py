"""The MLflow names of a split's metrics: split-prefixed, undefined values left out,
characters that MLflow refuses replaced."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from brain_tumor_mri.core.metrics import classification_metrics
from brain_tumor_mri.core.source_groups import source_group_metrics
from brain_tumor_mri.pipelines.evaluation.mlflow_metrics import flatten_for_mlflow
from tests.helpers.metrics import (
    HAND_LABELS,
    HAND_PROBABILITIES,
    labelled_probabilities,
)
from tests.helpers.predictions import NAMES as CLASSES

MLFLOW_NAME = re.compile(r"^[A-Za-z0-9_\-./ ]+$")


def test_a_metric_that_the_split_cannot_define_is_left_out() -> None:
    labels, probabilities = labelled_probabilities()
    keep = labels != 2
    metrics = classification_metrics(
        labels[keep], probabilities[keep], CLASSES, ece_bins=15
    )

    flat = flatten_for_mlflow(metrics, "test_dedup")

    assert "test_dedup_roc_auc_no_tumor" not in flat
    assert "test_dedup_recall_no_tumor" not in flat
    assert flat["test_dedup_support_no_tumor"] == 0.0
    assert all(math.isfinite(v) for v in flat.values())


def test_flatten_for_mlflow_names() -> None:
    labels, probabilities = labelled_probabilities()
    metrics = classification_metrics(labels, probabilities, CLASSES, ece_bins=15)

    flat = {
        **flatten_for_mlflow(metrics, "val"),
        **flatten_for_mlflow(metrics, "test"),
        **flatten_for_mlflow(metrics, "test_dedup"),
    }

    assert flat["test_accuracy"] == metrics["accuracy"]
    assert flat["test_dedup_macro_f1"] == metrics["macro_avg"]["f1"]
    assert (
        flat["val_roc_auc_glioma_tumor"]
        == (metrics["per_class"]["glioma_tumor"]["roc_auc"])
    )
    assert (
        flat["test_precision_no_tumor"] == metrics["per_class"]["no_tumor"]["precision"]
    )
    for name in (
        "val_balanced_accuracy",
        "val_log_loss",
        "val_brier_score",
        "val_ece",
        "val_n_samples",
        "val_macro_roc_auc",
        "val_macro_average_precision",
        "val_micro_roc_auc",
        "val_weighted_f1",
        "val_average_precision_pituitary_tumor",
        "val_support_meningioma_tumor",
    ):
        assert name in flat
    assert all(MLFLOW_NAME.match(name) for name in flat)
    assert all(isinstance(value, float) for value in flat.values())


def test_flatten_replaces_characters_mlflow_refuses() -> None:
    metrics = classification_metrics(
        HAND_LABELS, HAND_PROBABILITIES, ["a+b", "c:d", "e (f)"], ece_bins=15
    )

    flat = flatten_for_mlflow(metrics, "external")

    assert "external_recall_a_b" in flat
    assert "external_recall_c_d" in flat
    assert "external_recall_e _f_" in flat
    assert all(MLFLOW_NAME.match(name) for name in flat)


def test_source_group_metrics_are_named_by_group() -> None:
    labels = np.array([0] * 33 + [2] * 25)
    groups = np.array(["a"] * 30 + ["b"] * 3 + ["b"] * 25)
    predicted = np.array([0] * 30 + [2] * 3 + [2] * 20 + [1] * 5)
    probabilities = np.eye(4)[predicted]
    metrics = classification_metrics(labels, probabilities, CLASSES, ece_bins=15)
    metrics.update(
        source_group_metrics(labels, probabilities, groups, CLASSES, "no_tumor", 20)
    )

    flat = flatten_for_mlflow(metrics, "test")

    assert flat["test_tumour_sensitivity_b"] == 0.0
    assert flat["test_accuracy_a"] == 1.0
    assert flat["test_worst_group_accuracy"] == pytest.approx(0.8)
