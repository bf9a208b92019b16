"""Classification metrics of predicted class probabilities, and their tables.

Every metric is computed from the probabilities (ROC AUC and average precision
included), with scikit-learn wherever it has the metric. A value that a split cannot
define (the ROC AUC of a class absent from the split, for example) is ``None``, so
that the dict stays valid JSON.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

PER_CLASS = ("precision", "recall", "f1", "support", "roc_auc", "average_precision")
AVERAGES = ("macro_avg", "weighted_avg", "micro_avg")
SCALARS = ("accuracy", "balanced_accuracy", "log_loss", "brier_score", "ece")
# Scalars that the evaluation adds to a split's metrics (calibration, review threshold
# and screening; see ``pipelines/evaluation/nodes.py``), shown and logged when present.
EXTRA_SCALARS = (
    "log_loss_uncalibrated",
    "brier_score_uncalibrated",
    "ece_uncalibrated",
    "coverage_at_threshold",
    "accuracy_at_threshold",
    "tumour_sensitivity",
    "tumour_specificity",
    "missed_tumours",
    "worst_group_accuracy",
    "group_balanced_accuracy",
    "min_group_tumour_sensitivity",
    "screening_score",
)
SUMMARY_COLUMNS = {
    "n_samples": "images",
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "macro_f1": "macro F1",
    "macro_roc_auc": "macro ROC AUC",
    "log_loss": "log loss",
    "brier_score": "Brier score",
    "ece": "ECE",
    "log_loss_uncalibrated": "log loss uncalibrated",
    "ece_uncalibrated": "ECE uncalibrated",
    "coverage_at_threshold": "coverage at threshold",
    "accuracy_at_threshold": "accuracy at threshold",
    "tumour_sensitivity": "tumour sensitivity",
    "tumour_specificity": "tumour specificity",
    "missed_tumours": "missed tumours",
    "worst_group_accuracy": "worst-group accuracy",
    "group_balanced_accuracy": "group-balanced accuracy",
}


def _validate(
    labels: np.ndarray, probabilities: np.ndarray, num_classes: int
) -> np.ndarray:
    """Float64 probabilities whose rows sum to 1 (float32 softmax rounding removed)."""
    if probabilities.ndim != 2 or probabilities.shape[1] != num_classes:
        raise ValueError(
            f"Expected probabilities of shape (n, {num_classes}), got "
            f"{probabilities.shape}."
        )
    if len(labels) != len(probabilities):
        raise ValueError(
            f"{len(labels)} labels but {len(probabilities)} rows of probabilities."
        )
    if len(labels) == 0:
        raise ValueError("No samples to compute metrics on.")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"Labels must lie in 0..{num_classes - 1}.")
    if (probabilities < 0).any() or not np.allclose(
        probabilities.sum(axis=1), 1, atol=1e-3
    ):
        raise ValueError("Each row of probabilities must be >= 0 and sum to 1.")
    return probabilities / probabilities.sum(axis=1, keepdims=True)


def _value(x: float) -> float | None:
    """A float, or None where it is undefined (NaN)."""
    return None if x is None or math.isnan(x) else float(x)


def reliability_bins(
    labels: np.ndarray, probabilities: np.ndarray, num_bins: int
) -> list[dict[str, Any]]:
    """Top-label confidence in equal-width bins ``(lower, upper]`` of [0, 1].

    Per bin: its bounds, the number of samples, their accuracy and mean confidence
    (None for an empty bin). The first bin also holds a confidence of exactly 0.
    """
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    index = np.clip(np.ceil(confidence * num_bins).astype(int) - 1, 0, num_bins - 1)
    bins = []
    for b in range(num_bins):
        members = index == b
        count = int(members.sum())
        bins.append(
            {
                "lower": b / num_bins,
                "upper": (b + 1) / num_bins,
                "count": count,
                "accuracy": float(correct[members].mean()) if count else None,
                "confidence": float(confidence[members].mean()) if count else None,
            }
        )
    return bins


def expected_calibration_error(bins: Sequence[Mapping[str, Any]]) -> float:
    """ECE: sum over bins of (bin count / n) * |accuracy - mean confidence|."""
    total = sum(b["count"] for b in bins)
    return float(
        sum(
            b["count"] / total * abs(b["accuracy"] - b["confidence"])
            for b in bins
            if b["count"]
        )
    )


def _ranking_metrics(
    one_hot: np.ndarray, probabilities: np.ndarray
) -> tuple[list[float | None], list[float | None]]:
    """One-vs-rest ROC AUC and average precision per class; None for a class that is
    absent from the split (or is the only class present)."""
    aucs, aps = [], []
    for k in range(one_hot.shape[1]):
        positives = int(one_hot[:, k].sum())
        if 0 < positives < len(one_hot):
            aucs.append(float(roc_auc_score(one_hot[:, k], probabilities[:, k])))
        else:
            aucs.append(None)
        if positives:
            aps.append(
                float(average_precision_score(one_hot[:, k], probabilities[:, k]))
            )
        else:
            aps.append(None)
    return aucs, aps


def _mean_defined(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def classification_metrics(
    labels: Sequence[int] | np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    ece_bins: int,
) -> dict[str, Any]:
    """Every metric of one split from its true labels and predicted probabilities.

    The prediction is the class of highest probability. Definitions:

    - ``precision``, ``recall``, ``f1``, ``support`` per class (scikit-learn, 0 where
      the denominator is 0); the recall and F1 of a class absent from the split are
      None. ``macro_avg`` and ``weighted_avg`` average over the classes present in
      the split, which is scikit-learn's average when every class is present.
    - ``roc_auc`` per class: one-vs-rest, from the probabilities; ``macro_avg``'s is
      scikit-learn's ``roc_auc_score(multi_class="ovr")`` (the mean over the classes
      that have one), ``micro_avg``'s pools every (sample, class) pair.
    - ``average_precision`` per class (one-vs-rest), macro and micro.
    - ``log_loss``: mean negative log-probability of the true class (scikit-learn).
    - ``brier_score``: mean over samples of the sum over classes of (probability -
      one-hot)^2, in [0, 2] (scikit-learn's multi-class Brier score, unscaled).
    - ``ece``: expected calibration error of the top-label confidence in ``ece_bins``
      equal-width bins, sum of (bin count / n) * |bin accuracy - bin confidence|;
      ``reliability`` holds the bins.
    - ``confusion_matrix``: rows are true classes, columns predicted ones.
    """
    labels = np.asarray(labels, dtype=np.int64)
    k = len(class_names)
    probabilities = _validate(labels, np.asarray(probabilities, dtype=np.float64), k)
    predicted = probabilities.argmax(axis=1)
    every = list(range(k))
    scores = _label_scores(labels, predicted, k)
    aucs, aps = _ranking_metrics(np.eye(k, dtype=np.int64)[labels], probabilities)
    bins = reliability_bins(labels, probabilities, ece_bins)
    return {
        "n_samples": int(len(labels)),
        "class_names": list(class_names),
        "accuracy": float(accuracy_score(labels, predicted)),
        "balanced_accuracy": scores["balanced_accuracy"],
        "log_loss": float(log_loss(labels, probabilities, labels=every)),
        "brier_score": float(
            brier_score_loss(labels, probabilities, labels=every, scale_by_half=False)
        ),
        "ece": expected_calibration_error(bins),
        "per_class": _per_class(scores, aucs, aps, class_names),
        **_averages(labels, probabilities, scores, aucs, aps),
        "confusion_matrix": confusion_matrix(labels, predicted, labels=every).tolist(),
        "reliability": bins,
    }


def _label_scores(
    labels: np.ndarray, predicted: np.ndarray, num_classes: int
) -> dict[str, Any]:
    """Precision, recall, F1 and support per class, their macro and weighted averages
    over the classes present, and the balanced accuracy (scikit-learn, 0 where a
    denominator is 0)."""
    every = list(range(num_classes))
    present = [c for c in every if (labels == c).any()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.filterwarnings("ignore", message=".*y_pred contains classes not in")
        warnings.filterwarnings("ignore", message="A single label was found")
        per_class = precision_recall_fscore_support(
            labels, predicted, labels=every, zero_division=0.0
        )
        averages = {
            name: precision_recall_fscore_support(
                labels, predicted, labels=present, average=average, zero_division=0.0
            )
            for name, average in (("macro_avg", "macro"), ("weighted_avg", "weighted"))
        }
        balanced = balanced_accuracy_score(labels, predicted)
    return {
        "per_class": per_class,
        "averages": averages,
        "balanced_accuracy": float(balanced),
    }


def _per_class(
    scores: Mapping[str, Any],
    aucs: Sequence[float | None],
    aps: Sequence[float | None],
    class_names: Sequence[str],
) -> dict[str, dict[str, Any]]:
    """The scores of each class; recall and F1 are None for a class absent from the
    split."""
    precision, recall, f1, support = scores["per_class"]
    return {
        name: {
            "precision": float(precision[c]),
            "recall": float(recall[c]) if support[c] else None,
            "f1": float(f1[c]) if support[c] else None,
            "support": int(support[c]),
            "roc_auc": aucs[c],
            "average_precision": aps[c],
        }
        for c, name in enumerate(class_names)
    }


def _averages(
    labels: np.ndarray,
    probabilities: np.ndarray,
    scores: Mapping[str, Any],
    aucs: Sequence[float | None],
    aps: Sequence[float | None],
) -> dict[str, dict[str, Any]]:
    """``macro_avg``, ``weighted_avg`` and ``micro_avg`` (see
    ``classification_metrics``)."""
    k = probabilities.shape[1]
    one_hot = np.eye(k, dtype=np.int64)[labels]
    summary = {
        name: {
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "support": int(len(labels)),
        }
        for name, (p, r, f, _) in scores["averages"].items()
    }
    present = len(np.unique(labels))
    macro_auc = (
        float(
            roc_auc_score(
                labels, probabilities, multi_class="ovr", labels=list(range(k))
            )
        )
        if present == k > 2
        else _mean_defined(aucs)
    )
    summary["macro_avg"].update(roc_auc=macro_auc, average_precision=_mean_defined(aps))
    summary["micro_avg"] = {
        "roc_auc": _value(roc_auc_score(one_hot.ravel(), probabilities.ravel())),
        "average_precision": _value(
            average_precision_score(one_hot, probabilities, average="micro")
        ),
    }
    return summary


def metrics_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """One row per class, then the macro, weighted and micro averages."""
    rows = [{"class": name, **values} for name, values in metrics["per_class"].items()]
    rows += [
        {"class": average.replace("_avg", " avg"), **metrics[average]}
        for average in AVERAGES
    ]
    table = pd.DataFrame(rows, columns=["class", *PER_CLASS])
    return table.astype({"support": "Int64"})


def confusion_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """The confusion matrix with true classes as rows and predicted ones as columns."""
    names = metrics["class_names"]
    return pd.DataFrame(
        metrics["confusion_matrix"],
        index=pd.Index(names, name="true"),
        columns=pd.Index(names, name="predicted"),
    )


def summary_table(metrics_by_split: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per split with its headline metrics."""
    rows = []
    for split, metrics in metrics_by_split.items():
        values = {
            "n_samples": metrics["n_samples"],
            "accuracy": metrics["accuracy"],
            "balanced_accuracy": metrics["balanced_accuracy"],
            "macro_f1": metrics["macro_avg"]["f1"],
            "macro_roc_auc": metrics["macro_avg"].get("roc_auc"),
            "log_loss": metrics["log_loss"],
            "brier_score": metrics["brier_score"],
            "ece": metrics["ece"],
            **{
                key: metrics.get(key) for key in EXTRA_SCALARS if key in SUMMARY_COLUMNS
            },
        }
        rows.append(
            {"split": split, **{SUMMARY_COLUMNS[k]: v for k, v in values.items()}}
        )
    return pd.DataFrame(rows, columns=["split", *SUMMARY_COLUMNS.values()])
