"""Temperature scaling, the review threshold and screening metrics.

Temperature scaling divides the logits of the model by one number T fitted on the
validation split; the logits are recovered from the softmax probabilities as
``log(p)`` (softmax is invariant to the constant that this drops). Dividing every
logit of an image by the same positive T keeps their order, so the predicted class
never changes; only the confidence does.

The review threshold is a confidence (the calibrated probability of the predicted
class) under which a prediction is flagged for a human to review. A model without a
threshold, or whose threshold could not reach its target accuracy, flags everything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import softmax
from sklearn.metrics import confusion_matrix, log_loss

# Search interval of log T: T from 1/1000 (sharpen) to 1000 (soften).
LOG_TEMPERATURE_BOUNDS = (-math.log(1000.0), math.log(1000.0))
# Smallest probability whose log is taken: the smallest normal float32, since a float32
# softmax underflows to 0 (logits at most ~87 below the top one).
_TINY = float(np.finfo(np.float32).tiny)


def logits_from_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """``log(p)`` in float64, with zeros (float32 underflow) clipped to the smallest
    normal float32."""
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), _TINY, None))


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(p) / T)`` in float64; the argmax of every row is unchanged."""
    if not temperature > 0:
        raise ValueError(f"The temperature must be positive, got {temperature}.")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.size == 0:
        return probabilities.copy()
    return softmax(logits_from_probabilities(probabilities) / temperature, axis=-1)


def negative_log_likelihood(
    labels: np.ndarray, probabilities: np.ndarray, temperature: float = 1.0
) -> float:
    """scikit-learn's log loss (mean negative log-probability of the true class) after
    scaling by ``temperature``: the ``log_loss`` that the evaluation reports."""
    num_classes = np.asarray(probabilities).shape[-1]
    return float(
        log_loss(
            labels,
            apply_temperature(probabilities, temperature),
            labels=list(range(num_classes)),
        )
    )


def fit_temperature(
    labels: np.ndarray, probabilities: np.ndarray
) -> dict[str, float | int]:
    """The temperature that minimises the NLL of ``labels``, searched over log T.

    ``scipy.optimize.minimize_scalar`` (bounded) searches log T in
    ``LOG_TEMPERATURE_BOUNDS``; if its optimum is not better than T = 1 (a flat or
    already calibrated case), T = 1 is kept, so the NLL never rises. Returns the
    temperature and the NLL before and after. An empty split gives T = 1.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return {"temperature": 1.0, "nll_before": None, "nll_after": None, "n": 0}
    before = negative_log_likelihood(labels, probabilities, 1.0)
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(labels, probabilities, math.exp(log_t)),
        bounds=LOG_TEMPERATURE_BOUNDS,
        method="bounded",
        options={"xatol": 1e-6},
    )
    temperature, after = float(math.exp(result.x)), float(result.fun)
    if not after < before:
        temperature, after = 1.0, before
    return {
        "temperature": temperature,
        "nll_before": before,
        "nll_after": after,
        "n": int(len(labels)),
    }


def confidence(probabilities: np.ndarray) -> np.ndarray:
    """The probability of the predicted class of each row."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.size == 0:
        return np.zeros(len(probabilities))
    return probabilities.max(axis=-1)


def risk_coverage_curve(
    labels: np.ndarray, probabilities: np.ndarray
) -> dict[str, np.ndarray]:
    """Accuracy of the predictions kept against the fraction kept, keeping the most
    confident first; one point per distinct confidence (ties are kept together).

    Returns ``{"threshold", "coverage", "accuracy"}``, thresholds in decreasing
    order: keeping every prediction whose confidence is at least ``threshold[i]``
    keeps ``coverage[i]`` of them, with accuracy ``accuracy[i]``.
    """
    labels = np.asarray(labels)
    conf = confidence(probabilities)
    if len(labels) == 0:
        empty = np.zeros(0)
        return {"threshold": empty, "coverage": empty, "accuracy": empty}
    correct = np.asarray(probabilities).argmax(axis=-1) == labels
    order = np.argsort(-conf, kind="stable")
    sorted_conf, sorted_correct = conf[order], correct[order]
    # The last index of each run of equal confidences.
    last = np.flatnonzero(np.r_[sorted_conf[1:] != sorted_conf[:-1], True])
    kept = last + 1
    return {
        "threshold": sorted_conf[last],
        "coverage": kept / len(labels),
        "accuracy": np.cumsum(sorted_correct)[last] / kept,
    }


def choose_confidence_threshold(
    labels: np.ndarray, probabilities: np.ndarray, target_accuracy: float
) -> dict[str, Any]:
    """The lowest confidence such that the predictions at or above it reach
    ``target_accuracy``; 1.0 with ``target_reached`` False when none does.

    Returns the threshold, whether the target was reached, and the coverage and
    accuracy of the kept predictions on these labels.
    """
    curve = risk_coverage_curve(labels, probabilities)
    reached = np.flatnonzero(curve["accuracy"] >= target_accuracy - 1e-12)
    if reached.size == 0:
        return {
            "confidence_threshold": 1.0,
            "target_accuracy": float(target_accuracy),
            "target_reached": False,
            "coverage": 0.0,
            "accuracy": None,
        }
    best = reached[-1]  # thresholds decrease along the curve: the last is the lowest
    return {
        "confidence_threshold": float(curve["threshold"][best]),
        "target_accuracy": float(target_accuracy),
        "target_reached": True,
        "coverage": float(curve["coverage"][best]),
        "accuracy": float(curve["accuracy"][best]),
    }


def needs_review(
    probabilities: np.ndarray, calibration: Mapping[str, Any] | None
) -> np.ndarray:
    """True where the confidence is under the threshold; everywhere when the model has
    no threshold or its target accuracy was not reached on validation."""
    conf = confidence(probabilities)
    if not calibration or not calibration.get("target_reached", False):
        return np.ones(len(conf), dtype=bool)
    return conf < float(calibration["confidence_threshold"])


def review_metrics(
    labels: np.ndarray, probabilities: np.ndarray, calibration: Mapping[str, Any]
) -> dict[str, float | None]:
    """Coverage (fraction not flagged) and accuracy of the kept predictions."""
    labels = np.asarray(labels)
    kept = ~needs_review(probabilities, calibration)
    correct = np.asarray(probabilities).argmax(axis=-1) == labels
    return {
        "coverage_at_threshold": float(kept.mean()) if len(labels) else None,
        "accuracy_at_threshold": float(correct[kept].mean()) if kept.any() else None,
    }


def screening_metrics(
    labels: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    negative_class: str,
) -> dict[str, float | int | None]:
    """Any tumour (every class but ``negative_class``) against ``negative_class``.

    ``tumour_sensitivity``: tumour images predicted as any tumour class, over tumour
    images; ``tumour_specificity``: ``negative_class`` images predicted so, over
    those images (None where the split has none); ``missed_tumours``: tumour images
    predicted ``negative_class``.
    """
    negative = list(class_names).index(negative_class)
    tumour = np.asarray(labels) != negative
    predicted_tumour = np.asarray(probabilities).argmax(axis=-1) != negative
    tn, fp, fn, tp = confusion_matrix(
        tumour, predicted_tumour, labels=[False, True]
    ).ravel()
    return {
        "tumour_sensitivity": float(tp / (tp + fn)) if tp + fn else None,
        "tumour_specificity": float(tn / (tn + fp)) if tn + fp else None,
        "missed_tumours": int(fn),
    }
