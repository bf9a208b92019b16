"""Metrics from probabilities, against scikit-learn and values computed by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

from brain_tumor_mri.core.metrics import (
    classification_metrics,
    confusion_table,
    metrics_table,
    reliability_bins,
)
from tests.helpers.metrics import (
    HAND_LABELS,
    HAND_PROBABILITIES,
    labelled_probabilities,
)

CLASSES = ["glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor"]


@pytest.fixture
def random_predictions() -> tuple[np.ndarray, np.ndarray]:
    return labelled_probabilities()


def test_hand_computed_case() -> None:
    metrics = classification_metrics(
        HAND_LABELS, HAND_PROBABILITIES, ["a", "b", "c"], ece_bins=5
    )

    assert metrics["n_samples"] == 6
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["confusion_matrix"] == [[1, 0, 1], [1, 1, 0], [0, 0, 2]]
    per_class = metrics["per_class"]
    assert [per_class[c]["precision"] for c in "abc"] == pytest.approx(
        [1 / 2, 1, 2 / 3]
    )
    assert [per_class[c]["recall"] for c in "abc"] == pytest.approx([1 / 2, 1 / 2, 1])
    assert [per_class[c]["f1"] for c in "abc"] == pytest.approx([1 / 2, 2 / 3, 4 / 5])
    assert [per_class[c]["support"] for c in "abc"] == [2, 2, 2]
    assert metrics["balanced_accuracy"] == pytest.approx(2 / 3)
    assert metrics["macro_avg"]["f1"] == pytest.approx((1 / 2 + 2 / 3 + 4 / 5) / 3)
    # ROC AUC of a: positives score 0.90 and 0.30, negatives 0.65, 0.15, 0.05, 0.20;
    # 7 of the 8 (positive, negative) pairs are ranked right.
    assert per_class["a"]["roc_auc"] == pytest.approx(7 / 8)
    # AP of a: ranked 0.90 (+), 0.65 (-), 0.30 (+): 1/2 * 1 + 1/2 * 2/3.
    assert per_class["a"]["average_precision"] == pytest.approx(1 / 2 + 1 / 3)
    true_probability = [0.90, 0.25, 0.75, 0.30, 0.85, 0.45]
    assert metrics["log_loss"] == pytest.approx(-np.mean(np.log(true_probability)))
    # Brier: per image, sum over classes of (p - one-hot)^2, then the mean.
    per_image = [0.015, 0.995, 0.095, 0.78, 0.035, 0.465]
    assert metrics["brier_score"] == pytest.approx(np.mean(per_image))


def test_expected_calibration_error_by_hand() -> None:
    # Five bins of width 0.2. Top-label confidences and correctness:
    #   (0.4, 0.6]: 0.50 wrong, 0.45 right -> accuracy 0.5, confidence 0.475
    #   (0.6, 0.8]: 0.65 wrong, 0.75 right -> accuracy 0.5, confidence 0.700
    #   (0.8, 1.0]: 0.90 right, 0.85 right -> accuracy 1.0, confidence 0.875
    # ECE = 2/6 * 0.025 + 2/6 * 0.2 + 2/6 * 0.125
    metrics = classification_metrics(
        HAND_LABELS, HAND_PROBABILITIES, ["a", "b", "c"], ece_bins=5
    )

    assert metrics["ece"] == pytest.approx((0.025 + 0.2 + 0.125) / 3)
    bins = metrics["reliability"]
    assert [b["count"] for b in bins] == [0, 0, 2, 2, 2]
    assert bins[2]["accuracy"] == pytest.approx(0.5)
    assert bins[2]["confidence"] == pytest.approx(0.475)
    assert bins[4]["accuracy"] == pytest.approx(1.0)
    assert bins[0]["accuracy"] is None
    assert bins[3]["lower"] == pytest.approx(0.6)
    assert bins[3]["upper"] == pytest.approx(0.8)


def test_perfectly_calibrated_bins_give_zero_ece() -> None:
    # Confidence 0.75 in every case, right three times in four.
    probabilities = np.tile([0.75, 0.25], (8, 1))
    labels = np.array([0, 0, 0, 1, 0, 0, 0, 1])

    metrics = classification_metrics(labels, probabilities, ["x", "y"], ece_bins=10)

    assert metrics["ece"] == pytest.approx(0.0)


def test_confidence_on_a_bin_edge_goes_to_the_lower_bin() -> None:
    bins = reliability_bins(np.array([0, 0]), np.array([[0.5, 0.5], [1.0, 0.0]]), 4)

    assert [b["count"] for b in bins] == [0, 1, 0, 1]


def test_matches_scikit_learn(random_predictions) -> None:
    labels, probabilities = random_predictions
    predicted = probabilities.argmax(axis=1)

    metrics = classification_metrics(labels, probabilities, CLASSES, ece_bins=15)

    assert metrics["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    assert metrics["balanced_accuracy"] == pytest.approx(
        balanced_accuracy_score(labels, predicted)
    )
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted)
    for k, name in enumerate(CLASSES):
        values = metrics["per_class"][name]
        assert values["precision"] == pytest.approx(precision[k])
        assert values["recall"] == pytest.approx(recall[k])
        assert values["f1"] == pytest.approx(f1[k])
        assert values["support"] == support[k]
        assert values["roc_auc"] == pytest.approx(
            roc_auc_score(labels == k, probabilities[:, k])
        )
        assert values["average_precision"] == pytest.approx(
            average_precision_score(labels == k, probabilities[:, k])
        )
    for average in ("macro", "weighted"):
        expected = precision_recall_fscore_support(labels, predicted, average=average)
        got = metrics[f"{average}_avg"]
        assert [got["precision"], got["recall"], got["f1"]] == pytest.approx(
            expected[:3]
        )
    assert metrics["macro_avg"]["roc_auc"] == pytest.approx(
        roc_auc_score(labels, probabilities, multi_class="ovr")
    )
    one_hot = np.eye(4)[labels]
    assert metrics["micro_avg"]["roc_auc"] == pytest.approx(
        roc_auc_score(one_hot, probabilities, average="micro")
    )
    assert metrics["micro_avg"]["average_precision"] == pytest.approx(
        average_precision_score(one_hot, probabilities, average="micro")
    )
    assert metrics["log_loss"] == pytest.approx(log_loss(labels, probabilities))
    assert metrics["brier_score"] == pytest.approx(
        np.mean(np.sum((probabilities - one_hot) ** 2, axis=1))
    )
    assert metrics["confusion_matrix"] == confusion_matrix(labels, predicted).tolist()


def test_roc_auc_comes_from_probabilities_not_hard_labels(random_predictions) -> None:
    labels, probabilities = random_predictions
    predicted = probabilities.argmax(axis=1)
    from_hard_labels = roc_auc_score(labels == 0, predicted == 0)

    metrics = classification_metrics(labels, probabilities, CLASSES, ece_bins=15)

    assert metrics["per_class"][CLASSES[0]]["roc_auc"] != pytest.approx(
        from_hard_labels
    )


def test_class_absent_from_the_split(random_predictions) -> None:
    labels, probabilities = random_predictions
    keep = labels != 2

    metrics = classification_metrics(
        labels[keep], probabilities[keep], CLASSES, ece_bins=15
    )

    absent = metrics["per_class"]["no_tumor"]
    assert absent["support"] == 0
    assert absent["roc_auc"] is None
    assert absent["average_precision"] is None
    assert absent["recall"] is None
    assert absent["f1"] is None
    present = [metrics["per_class"][c]["roc_auc"] for c in CLASSES if c != "no_tumor"]
    assert metrics["macro_avg"]["roc_auc"] == pytest.approx(np.mean(present))
    assert metrics["confusion_matrix"][2] == [0, 0, 0, 0]
    assert metrics["log_loss"] == pytest.approx(
        log_loss(labels[keep], probabilities[keep], labels=range(4))
    )
    json.dumps(metrics, allow_nan=False)


def test_single_class_split_does_not_crash() -> None:
    probabilities = np.array([[0.7, 0.2, 0.1, 0.0], [0.4, 0.3, 0.2, 0.1]])

    metrics = classification_metrics([0, 0], probabilities, CLASSES, ece_bins=15)

    assert metrics["accuracy"] == 1.0
    assert metrics["macro_avg"]["roc_auc"] is None
    assert metrics["micro_avg"]["roc_auc"] is not None


def test_tables(random_predictions) -> None:
    labels, probabilities = random_predictions
    metrics = classification_metrics(labels, probabilities, CLASSES, ece_bins=15)

    table = metrics_table(metrics)
    confusion = confusion_table(metrics)

    assert list(table["class"]) == [*CLASSES, "macro avg", "weighted avg", "micro avg"]
    assert table.loc[0, "f1"] == metrics["per_class"]["glioma_tumor"]["f1"]
    assert (
        confusion.loc["no_tumor", "glioma_tumor"] == metrics["confusion_matrix"][2][0]
    )
    assert int(confusion.to_numpy().sum()) == len(labels)


@pytest.mark.parametrize(
    ("labels", "probabilities", "message"),
    [
        ([0, 1], np.full((2, 3), 1 / 3), "shape"),
        ([0], np.full((2, 4), 0.25), "labels but"),
        ([], np.zeros((0, 4)), "No samples"),
        ([0, 4], np.full((2, 4), 0.25), "Labels must lie"),
        ([0, 1], np.full((2, 4), 0.5), "sum to 1"),
    ],
)
def test_invalid_input_is_refused(labels, probabilities, message) -> None:
    with pytest.raises(ValueError, match=message):
        classification_metrics(labels, probabilities, CLASSES, ece_bins=15)
