"""Predictions shared by the tests of the metrics and of their MLflow names."""

from __future__ import annotations

import numpy as np

# Six images, three classes, chosen so that every number below is easy to check by hand.
HAND_LABELS = np.array([0, 1, 1, 0, 2, 2])
HAND_PROBABILITIES = np.array(
    [
        [0.90, 0.05, 0.05],  # true a, predicted a, confidence 0.90
        [0.65, 0.25, 0.10],  # true b, predicted a, confidence 0.65
        [0.15, 0.75, 0.10],  # true b, predicted b, confidence 0.75
        [0.30, 0.20, 0.50],  # true a, predicted c, confidence 0.50
        [0.05, 0.10, 0.85],  # true c, predicted c, confidence 0.85
        [0.20, 0.35, 0.45],  # true c, predicted c, confidence 0.45
    ]
)


def labelled_probabilities(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """120 labels of 4 classes and softmax probabilities that lean towards them."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, 120)
    logits = rng.normal(size=(120, 4))
    logits[np.arange(120), labels] += 1.0
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, probabilities.astype(np.float32)
