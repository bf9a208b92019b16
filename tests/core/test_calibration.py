"""Temperature scaling and the review threshold (applied and fitted) and screening
metrics, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax as scipy_softmax
from sklearn.metrics import log_loss

from brain_tumor_mri.core.calibration import apply_temperature, needs_review, softmax
from brain_tumor_mri.core.calibration_fitting import (
    choose_confidence_threshold,
    fit_temperature,
    risk_coverage_curve,
)
from brain_tumor_mri.core.prediction import prediction_frame
from brain_tumor_mri.core.review_metrics import review_metrics, screening_metrics

CLASSES = ["glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor"]


def overconfident(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 70%-accurate model that puts ~0.99 on its predicted class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    predicted = np.where(rng.random(n) < 0.7, labels, (labels + 1) % 4)
    logits = rng.normal(0, 0.5, (n, 4))
    logits[np.arange(n), predicted] += 6.0
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, probabilities.astype(np.float32)


def test_temperature_softens_an_overconfident_model_and_keeps_the_argmax() -> None:
    labels, probabilities = overconfident()

    fit = fit_temperature(labels, probabilities)
    calibrated = apply_temperature(probabilities, fit["temperature"])

    assert fit["temperature"] > 1.5
    assert fit["nll_after"] < fit["nll_before"]
    assert fit["nll_after"] == pytest.approx(log_loss(labels, calibrated), rel=1e-6)
    as_float64 = probabilities.astype(np.float64)
    as_float64 /= as_float64.sum(axis=1, keepdims=True)
    assert fit["nll_before"] == pytest.approx(log_loss(labels, as_float64), rel=1e-6)
    np.testing.assert_array_equal(calibrated.argmax(1), probabilities.argmax(1))
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
    # Softer: the mean confidence moves towards the accuracy (0.7).
    assert abs(calibrated.max(1).mean() - 0.7) < abs(probabilities.max(1).mean() - 0.7)


def test_temperature_sharpens_an_underconfident_model() -> None:
    labels = np.array([0, 1, 2, 3] * 25)
    probabilities = np.full((100, 4), 0.2)
    probabilities[np.arange(100), labels] = 0.4

    fit = fit_temperature(labels, probabilities)

    assert fit["temperature"] < 1
    assert fit["nll_after"] < fit["nll_before"]


def test_temperature_never_raises_the_nll() -> None:
    # Uniform probabilities: every temperature gives the same NLL; T stays 1.
    labels = np.array([0, 1, 2, 3])
    fit = fit_temperature(labels, np.full((4, 4), 0.25))
    assert fit["temperature"] == 1.0
    assert fit["nll_after"] == fit["nll_before"]


def test_zero_probabilities_and_empty_splits() -> None:
    probabilities = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]], np.float32)
    calibrated = apply_temperature(probabilities, 50.0)
    assert np.isfinite(calibrated).all()
    np.testing.assert_array_equal(calibrated.argmax(1), [0, 2])
    assert fit_temperature(np.zeros(0, int), np.zeros((0, 4)))["temperature"] == 1.0
    assert apply_temperature(np.zeros((0, 4)), 2.0).shape == (0, 4)
    with pytest.raises(ValueError, match="positive"):
        apply_temperature(probabilities, 0.0)


def test_softmax_is_scipys_to_the_bit() -> None:
    # The served model applies the temperature without SciPy: the same numbers.
    logits = np.random.default_rng(1).normal(0, 30, (500, 4))
    np.testing.assert_array_equal(softmax(logits), scipy_softmax(logits, axis=-1))
    labels, probabilities = overconfident()
    np.testing.assert_array_equal(
        apply_temperature(probabilities, 1.7),
        scipy_softmax(np.log(probabilities.astype(np.float64)) / 1.7, axis=-1),
    )


def probabilities_for(confidences, predicted) -> np.ndarray:
    """Rows whose predicted class and its probability are given (4 classes)."""
    rows = []
    for conf, k in zip(confidences, predicted, strict=True):
        row = np.full(4, (1 - conf) / 3)
        row[k] = conf
        rows.append(row)
    return np.array(rows)


# Confidence 0.95, 0.9, 0.8, 0.7, 0.6; right, right, wrong, right, wrong.
HAND_LABELS = np.array([0, 1, 0, 3, 0])
HAND_PROBABILITIES = probabilities_for([0.95, 0.9, 0.8, 0.7, 0.6], [0, 1, 2, 3, 1])


def test_risk_coverage_curve_by_hand() -> None:
    curve = risk_coverage_curve(HAND_LABELS, HAND_PROBABILITIES)

    np.testing.assert_allclose(curve["threshold"], [0.95, 0.9, 0.8, 0.7, 0.6])
    np.testing.assert_allclose(curve["coverage"], [0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(curve["accuracy"], [1, 1, 2 / 3, 3 / 4, 3 / 5])


@pytest.mark.parametrize(
    ("target", "threshold", "coverage", "accuracy"),
    [
        # 0.7 is the lowest confidence whose kept predictions (4) are 75% right,
        # although at 0.8 they are only 67% right.
        (0.75, 0.7, 0.8, 0.75),
        (0.7, 0.7, 0.8, 0.75),
        (0.6, 0.6, 1.0, 0.6),
        (1.0, 0.9, 0.4, 1.0),
    ],
)
def test_threshold_by_hand(target, threshold, coverage, accuracy) -> None:
    choice = choose_confidence_threshold(HAND_LABELS, HAND_PROBABILITIES, target)

    assert choice["target_reached"]
    assert choice["confidence_threshold"] == pytest.approx(threshold)
    assert choice["coverage"] == pytest.approx(coverage)
    assert choice["accuracy"] == pytest.approx(accuracy)
    # The validation predictions kept at that threshold are those counted above.
    kept = ~needs_review(HAND_PROBABILITIES, choice)
    assert kept.mean() == pytest.approx(coverage)
    assert review_metrics(HAND_LABELS, HAND_PROBABILITIES, choice) == {
        "coverage_at_threshold": pytest.approx(coverage),
        "accuracy_at_threshold": pytest.approx(accuracy),
    }


def test_tied_confidences_are_kept_together() -> None:
    labels = np.array([0, 0, 0])
    probabilities = probabilities_for([0.9, 0.8, 0.8], [0, 0, 1])

    choice = choose_confidence_threshold(labels, probabilities, 0.9)

    # At 0.8 both tied predictions are kept (2 of 3 right): 0.9 is the threshold.
    assert choice["confidence_threshold"] == pytest.approx(0.9)
    assert choice["coverage"] == pytest.approx(1 / 3)


def test_unreachable_target_flags_everything() -> None:
    labels = np.array([1, 1, 1])
    probabilities = probabilities_for([1.0, 0.9, 0.5], [0, 2, 3])

    choice = choose_confidence_threshold(labels, probabilities, 0.95)

    assert choice["confidence_threshold"] == 1.0
    assert not choice["target_reached"]
    assert choice["coverage"] == 0.0 and choice["accuracy"] is None
    # Even a confidence of exactly 1.0 is flagged.
    assert needs_review(probabilities, choice).all()
    assert review_metrics(labels, probabilities, choice) == {
        "coverage_at_threshold": 0.0,
        "accuracy_at_threshold": None,
    }
    assert needs_review(probabilities, None).all()


def test_screening_metrics_by_hand() -> None:
    # True:      glioma, glioma, meningioma, pituitary, no, no, no
    # Predicted: no,     glioma, pituitary,  no,        no, glioma, no
    labels = np.array([0, 0, 1, 3, 2, 2, 2])
    probabilities = probabilities_for([0.9] * 7, [2, 0, 3, 2, 2, 0, 2])

    screening = screening_metrics(labels, probabilities, CLASSES, "no_tumor")

    # 4 tumours, 2 predicted no_tumor; 3 no_tumor images, 2 predicted no_tumor.
    assert screening == {
        "tumour_sensitivity": pytest.approx(2 / 4),
        "tumour_specificity": pytest.approx(2 / 3),
        "missed_tumours": 2,
    }
    only_tumours = screening_metrics(labels[:4], probabilities[:4], CLASSES, "no_tumor")
    assert only_tumours["tumour_specificity"] is None


def test_prediction_frame_calibrates_and_flags() -> None:
    probabilities = probabilities_for([0.99, 0.6], [0, 3]).astype(np.float32)
    calibration = {
        "temperature": 2.0,
        "confidence_threshold": 0.5,
        "target_reached": True,
    }

    frame = prediction_frame(probabilities, CLASSES, calibration)

    expected = apply_temperature(probabilities, 2.0)
    np.testing.assert_allclose(
        frame[[f"probability_{c}" for c in CLASSES]], expected, rtol=1e-12
    )
    assert list(frame["predicted_class"]) == ["glioma_tumor", "pituitary_tumor"]
    assert frame["needs_review"].tolist() == list(expected.max(1) < 0.5)
    assert frame["needs_review"].tolist() == [False, True]
    uncalibrated = prediction_frame(probabilities, CLASSES, None)
    np.testing.assert_allclose(
        uncalibrated[[f"probability_{c}" for c in CLASSES]], probabilities, atol=1e-7
    )
    assert uncalibrated["needs_review"].all()
