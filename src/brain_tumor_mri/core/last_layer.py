"""Last-layer retraining (DFR: deep feature reweighting, Kirichenko et al. 2023,
arXiv:2204.02937).

A trained model keeps its backbone; only its output layer is refitted, as a
logistic regression on the pooled features of images the backbone did not train on,
with every class x source cell weighted alike, so that the new head cannot lean on
the source. Its strength is chosen on one half of those images and the head fitted on
the other; the head kept is refitted on all of them at that strength and folded back
into the model's own output layer, so that the refitted model predicts, explains and
serves like the original.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from brain_tumor_mri.core.model import OUTPUT_LAYER
from brain_tumor_mri.core.prediction import predict_in_batches
from brain_tumor_mri.core.source_groups import group_balanced_weights

# The bias of a class that the head never saw: its probability is 0.
_ABSENT_CLASS_BIAS = -1e4

# A score of one head's probabilities on a labelled set, higher is better:
# score(labels, probabilities, groups).
Score = Callable[[np.ndarray, np.ndarray, np.ndarray], float | None]


def penultimate_features(
    model: keras.Model, images: np.ndarray, batch_size: int
) -> np.ndarray:
    """What the output layer of ``model`` takes, for every image."""
    features = keras.Model(model.inputs, model.get_layer(OUTPUT_LAYER).input)
    return predict_in_batches(features, images, batch_size)


def strata(labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The class x source cell of each image, to stratify a split by; an image alone
    in its cell (too few to stratify) joins its class's largest cell."""
    cells = _cells(labels, groups)
    names, inverse, counts = np.unique(cells, return_inverse=True, return_counts=True)
    for image in np.flatnonzero(counts[inverse] == 1):
        same_class = np.flatnonzero(labels == labels[image])
        largest = np.argmax(counts[inverse[same_class]])
        cells[image] = names[inverse[same_class[largest]]]
    return cells


def _cells(labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
    return np.char.add(
        np.char.add(np.asarray(labels).astype(str), "/"), np.asarray(groups, str)
    )


def fit_head(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    strength: float,
    num_classes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The kernel (features x classes) and bias of a softmax output layer: a
    logistic regression of inverse L2 strength ``strength`` on the standardised
    ``features``, every class x source cell weighted alike (``group_balanced_weights``), with
    the standardisation folded in."""
    head = make_pipeline(
        StandardScaler(), LogisticRegression(C=strength, max_iter=5000)
    )
    head.fit(
        features,
        labels,
        logisticregression__sample_weight=group_balanced_weights(labels, groups),
    )
    scaler, regression = head[0], head[1]
    coef, intercept = regression.coef_, regression.intercept_
    if len(regression.classes_) == 2:
        # A binary regression keeps one row of logits z: softmax([-z/2, z/2]).
        coef, intercept = (
            np.vstack([-coef / 2, coef / 2]),
            np.r_[-intercept, intercept] / 2,
        )
    scaled = coef / scaler.scale_
    kernel = np.zeros((features.shape[1], num_classes), np.float32)
    bias = np.full(num_classes, _ABSENT_CLASS_BIAS, np.float32)
    kernel[:, regression.classes_] = scaled.T
    bias[regression.classes_] = intercept - scaled @ scaler.mean_
    return kernel, bias


def head_probabilities(
    features: np.ndarray, kernel: np.ndarray, bias: np.ndarray
) -> np.ndarray:
    """The softmax probabilities of the output layer ``kernel``, ``bias``."""
    logits = features.astype(np.float64) @ kernel + bias
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    return probabilities / probabilities.sum(axis=1, keepdims=True)


def with_output_layer(
    model: keras.Model, kernel: np.ndarray, bias: np.ndarray
) -> keras.Model:
    """A copy of ``model`` whose output layer has ``kernel`` and ``bias``; the
    original is never changed."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.get_layer(OUTPUT_LAYER).set_weights([kernel, bias])
    return copy


def refit_output_layer(  # noqa: PLR0913, PLR0917
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    original_probabilities: np.ndarray,
    strengths: Sequence[float],
    score: Score,
    seed: int,
) -> dict[str, Any]:
    """DFR on one labelled set: halves A and B stratified by class x source cell
    (seeded); a head fitted on A at each of ``strengths``; the strength whose head
    scores best on B (the first of equal ones); the head refitted on the whole set at
    that strength.

    Returns ``kernel`` and ``bias`` (for ``with_output_layer``), ``strength``, the
    score on B of that head (``half_b_score``) and of the original head
    (``half_b_score_original``), every strength's score (``half_b_scores``) and
    ``preferred``: whether the refitted head scores above the original on B.
    """
    num_classes = original_probabilities.shape[1]
    half_a, half_b = train_test_split(
        np.arange(len(labels)),
        test_size=0.5,
        stratify=strata(labels, groups),
        random_state=seed,
    )
    scores = {}
    for strength in strengths:
        kernel, bias = fit_head(
            features[half_a], labels[half_a], groups[half_a], strength, num_classes
        )
        probabilities = head_probabilities(features[half_b], kernel, bias)
        scores[float(strength)] = _finite(
            score(labels[half_b], probabilities, groups[half_b])
        )
    original = _finite(
        score(labels[half_b], original_probabilities[half_b], groups[half_b])
    )
    chosen = max(scores, key=scores.__getitem__)
    kernel, bias = fit_head(features, labels, groups, chosen, num_classes)
    return {
        "kernel": kernel,
        "bias": bias,
        "strength": chosen,
        "half_b_score": scores[chosen],
        "half_b_score_original": original,
        "half_b_scores": scores,
        "preferred": scores[chosen] > original,
    }


def _finite(value: float | None) -> float:
    """A score where None (nothing to score) ranks below every real one."""
    return -np.inf if value is None else float(value)
