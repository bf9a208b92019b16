"""Fitting the calibration on the validation split: the temperature that minimises
the negative log-likelihood, and the review threshold read off the risk-coverage curve
(see ``calibration`` for what they mean and how they are applied)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import log_loss

from brain_tumor_mri.core.calibration import apply_temperature, confidence

# Search interval of log T: T from 1/1000 (sharpen) to 1000 (soften).
LOG_TEMPERATURE_BOUNDS = (-math.log(1000.0), math.log(1000.0))


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
