"""Metrics of the review flag (coverage and accuracy of the predictions kept) and of
screening (any tumour against none)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix

from brain_tumor_mri.core.calibration import needs_review


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
