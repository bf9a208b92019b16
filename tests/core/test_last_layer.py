"""Last-layer retraining: the refitted head, folded into the model's own output layer,
predicts what scikit-learn's regression predicts, and its strength is chosen on the
half it was not fitted on."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from brain_tumor_mri.core.last_layer import (
    fit_head,
    head_probabilities,
    penultimate_features,
    refit_output_layer,
    strata,
    with_output_layer,
)
from brain_tumor_mri.core.prediction import predict_in_batches
from brain_tumor_mri.core.source_groups import group_balanced_weights
from tests.helpers.predictions import small_model, split_cache


def separable(count: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Features that carry the class (column 0 to 3) and the source (column 4), the
    sources unequal in every class."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 4
    groups = np.where(rng.random(count) < 0.8, "512px_source", "other_source")
    features = rng.normal(size=(count, 6))
    features[np.arange(count), labels] += 2.0
    features[:, 4] += (groups == "other_source") * 3.0
    return features, labels, groups


def test_every_class_x_source_cell_weighs_the_same() -> None:
    labels = np.array([0, 0, 0, 1, 1, 0])
    groups = np.array(["a", "a", "a", "a", "b", "b"])

    weights = group_balanced_weights(labels, groups)

    totals = {
        cell: weights[(labels == label) & (groups == group)].sum()
        for cell, (label, group) in enumerate([(0, "a"), (1, "a"), (1, "b"), (0, "b")])
    }
    np.testing.assert_allclose(list(totals.values()), weights.sum() / 4)
    assert np.isclose(weights.mean(), 1)


def test_an_image_alone_in_its_cell_joins_its_class_largest_cell() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1])
    groups = np.array(["a", "a", "a", "b", "a", "a"])

    cells = strata(labels, groups)

    assert cells[3] == cells[0]
    assert len(set(cells)) == 2


def test_the_folded_head_predicts_what_the_regression_predicts() -> None:
    features, labels, groups = separable(200)
    regression = make_pipeline(
        StandardScaler(), LogisticRegression(C=0.1, max_iter=5000)
    )
    regression.fit(
        features,
        labels,
        logisticregression__sample_weight=group_balanced_weights(labels, groups),
    )

    kernel, bias = fit_head(features, labels, groups, 0.1, num_classes=4)

    np.testing.assert_allclose(
        head_probabilities(features, kernel, bias),
        regression.predict_proba(features),
        atol=1e-5,
    )


def test_a_class_the_head_never_saw_gets_no_probability() -> None:
    features, labels, groups = separable(120)
    seen = labels < 2

    kernel, bias = fit_head(features[seen], labels[seen], groups[seen], 1.0, 4)
    probabilities = head_probabilities(features, kernel, bias)

    np.testing.assert_allclose(probabilities[:, 2:], 0, atol=1e-12)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1)
    assert (probabilities[seen].argmax(1) == labels[seen]).mean() > 0.8


def test_the_model_with_the_refitted_layer_predicts_the_head_and_keeps_the_original():
    model = small_model()
    cache = split_cache(24)
    before = predict_in_batches(model, cache["images"], 8)
    features = penultimate_features(model, cache["images"], 8)
    kernel, bias = fit_head(features, cache["labels"], cache["groups"], 1.0, 4)

    refitted = with_output_layer(model, kernel, bias)

    np.testing.assert_allclose(
        predict_in_batches(refitted, cache["images"], 8),
        head_probabilities(features, kernel, bias),
        atol=1e-5,
    )
    np.testing.assert_array_equal(predict_in_batches(model, cache["images"], 8), before)


def test_the_strength_is_the_best_on_the_half_the_head_did_not_fit() -> None:
    features, labels, groups = separable(160)
    original = np.full((160, 4), 0.25)
    scored = []

    def accuracy(labels: np.ndarray, probabilities: np.ndarray, groups: np.ndarray):
        scored.append(len(labels))
        return float((probabilities.argmax(1) == labels).mean())

    refit = refit_output_layer(
        features, labels, groups, original, [1e-4, 1.0], accuracy, seed=3
    )
    again = refit_output_layer(
        features, labels, groups, original, [1e-4, 1.0], accuracy, seed=3
    )

    assert scored[:3] == [80, 80, 80]
    assert refit["strength"] == max(
        refit["half_b_scores"], key=refit["half_b_scores"].get
    )
    assert refit["half_b_score"] == max(refit["half_b_scores"].values())
    assert refit["half_b_score_original"] == 0.25
    assert refit["preferred"] is (refit["half_b_score"] > 0.25)
    assert refit["half_b_score"] > 0.6
    np.testing.assert_array_equal(refit["kernel"], again["kernel"])
    assert refit["kernel"].shape == (6, 4)
