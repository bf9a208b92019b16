"""Applying a fitted calibration: temperature scaling and the review flag.

Temperature scaling divides the logits of the model by one number T fitted on the
validation split; the logits are recovered from the softmax probabilities as
``log(p)`` (softmax is invariant to the constant that this drops). Dividing every
logit of an image by the same positive T keeps their order, so the predicted class
never changes; only the confidence does.

The review threshold is a confidence (the calibrated probability of the predicted
class) under which a prediction is flagged for a human to review. A model without a
threshold, or whose threshold could not reach its target accuracy, flags everything.

The served model runs this module, so it needs NumPy alone; fitting T and the
threshold is in ``calibration_fitting``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

# Smallest probability whose log is taken: the smallest normal float32, since a float32
# softmax underflows to 0 (logits at most ~87 below the top one).
_TINY = float(np.finfo(np.float32).tiny)


def logits_from_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """``log(p)`` in float64, with zeros (float32 underflow) clipped to the smallest
    normal float32."""
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), _TINY, None))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by each row's maximum: the same operations,
    and so the same numbers, as ``scipy.special.softmax(logits, axis=-1)``."""
    shifted = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
    return shifted / np.sum(shifted, axis=-1, keepdims=True)


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(p) / T)`` in float64; the argmax of every row is unchanged."""
    if not temperature > 0:
        raise ValueError(f"The temperature must be positive, got {temperature}.")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.size == 0:
        return probabilities.copy()
    return softmax(logits_from_probabilities(probabilities) / temperature)


def confidence(probabilities: np.ndarray) -> np.ndarray:
    """The probability of the predicted class of each row."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.size == 0:
        return np.zeros(len(probabilities))
    return probabilities.max(axis=-1)


def needs_review(
    probabilities: np.ndarray, calibration: Mapping[str, Any] | None
) -> np.ndarray:
    """True where the confidence is under the threshold; everywhere when the model has
    no threshold or its target accuracy was not reached on validation."""
    conf = confidence(probabilities)
    if not calibration or not calibration.get("target_reached", False):
        return np.ones(len(conf), dtype=bool)
    return conf < float(calibration["confidence_threshold"])
