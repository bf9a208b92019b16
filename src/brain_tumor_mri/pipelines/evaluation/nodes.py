"""Nodes of the evaluation pipeline: class probabilities per split, their calibration on
the validation split, the review threshold, and the metrics of every split."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

import keras
import numpy as np
import pandas as pd

from brain_tumor_mri.config.base import typed_params
from brain_tumor_mri.config.shared import (
    ImagePreprocessingParams,
    ScreeningParams,
    SourceGroupParams,
)
from brain_tumor_mri.core.adaptation import adapt_batch_norm, tent_adapt
from brain_tumor_mri.core.bootstrap import headline_intervals
from brain_tumor_mri.core.calibration import apply_temperature, confidence
from brain_tumor_mri.core.calibration_fitting import (
    LOG_TEMPERATURE_BOUNDS,
    choose_confidence_threshold,
    fit_temperature,
)
from brain_tumor_mri.core.classes import class_names, folder_to_class
from brain_tumor_mri.core.images.batches import load_images
from brain_tumor_mri.core.last_layer import (
    penultimate_features,
    refit_output_layer,
    with_output_layer,
)
from brain_tumor_mri.core.metrics import (
    classification_metrics,
    confusion_table,
    metrics_table,
    summary_table,
)
from brain_tumor_mri.core.prediction import predict_in_batches
from brain_tumor_mri.core.review_metrics import review_metrics, screening_metrics
from brain_tumor_mri.core.source_groups import (
    screening_score,
    screening_scorer,
    source_group_metrics,
)
from brain_tumor_mri.pipelines.evaluation.mlflow_metrics import flatten_for_mlflow
from brain_tumor_mri.pipelines.evaluation.params import EvaluationParams

logger = logging.getLogger(__name__)


@typed_params
def predict_probabilities(
    model: keras.Model, split_cache: Mapping[str, np.ndarray], params: EvaluationParams
) -> dict[str, np.ndarray]:
    """Softmax probabilities of every image of a split, batch by batch.

    With ``params.tta_flip`` the probabilities are the mean of those of the image
    and of its horizontal mirror (test-time augmentation). Returns
    ``{"probabilities": (n, k) float32, "labels": (n,) int64, "paths": (n,) str,
    "groups": (n,) str}``.
    """
    return {
        "probabilities": predict_in_batches(
            model,
            split_cache["images"],
            params.batch_size,
            mirror=params.tta_flip,
        ),
        **_labels_paths_and_groups(split_cache),
    }


@typed_params
def predict_adapted_probabilities(
    model: keras.Model, split_cache: Mapping[str, np.ndarray], params: EvaluationParams
) -> dict[str, np.ndarray]:
    """``predict_probabilities`` with the model adapted to the split's own images
    (AdaBN: its BatchNormalization statistics re-estimated on them, no label used);
    no image when ``params.adapt_batch_norm`` is off or the split is empty."""
    if not params.adapt_batch_norm or len(split_cache["labels"]) == 0:
        return _no_predictions()
    adapted = adapt_batch_norm(model, split_cache["images"], params.batch_size)
    return predict_probabilities(adapted, split_cache, params)


@typed_params
def predict_tent_probabilities(
    model: keras.Model,
    split_cache: Mapping[str, np.ndarray],
    params: EvaluationParams,
    seed: int,
) -> dict[str, np.ndarray]:
    """``predict_probabilities`` with the model adapted to the split's own images by
    AdaBN then ``params.tent.steps`` TENT steps (``core.adaptation.tent_adapt``: the
    BatchNormalization scale and shift only, no label used); no image when
    ``params.tent.enabled`` is off or the split is empty."""
    if not params.tent.enabled or len(split_cache["labels"]) == 0:
        return _no_predictions()
    images = split_cache["images"]
    adapted, losses = tent_adapt(
        adapt_batch_norm(model, images, params.batch_size),
        images,
        batch_size=params.batch_size,
        steps=params.tent.steps,
        learning_rate=params.tent.learning_rate,
        diversity_weight=params.tent.diversity_weight,
        seed=seed,
    )
    logger.info(
        "TENT on %d images: %d steps, loss %.4f -> %.4f.",
        len(images),
        len(losses),
        losses[0],
        losses[-1],
    )
    return predict_probabilities(adapted, split_cache, params)


@typed_params
def refit_last_layer(  # noqa: PLR0913, PLR0917 (Kedro passes node inputs positionally)
    model: keras.Model,
    val_cache: Mapping[str, np.ndarray],
    val_predictions: Mapping[str, np.ndarray],
    classes: Sequence[Mapping[str, Any]],
    source_groups: SourceGroupParams,
    negative_class: str,
    screening: ScreeningParams,
    params: EvaluationParams,
    seed: int,
) -> dict[str, Any]:
    """The model's output layer refitted on the validation split (last-layer
    retraining, ``core.last_layer.refit_output_layer``), its strength chosen on one
    half by the screening criterion with half of ``source_groups.min_images``
    tumours a group (a half holds half the images); {} when
    ``params.last_layer_retraining.enabled`` is off or the split has no image."""
    labels = np.asarray(val_cache["labels"])
    if not params.last_layer_retraining.enabled or len(labels) == 0:
        return {}
    score = screening_scorer(
        class_names(classes),
        negative_class,
        max(1, source_groups.min_images // 2),
        screening.min_specificity,
    )
    refit = refit_output_layer(
        penultimate_features(model, val_cache["images"], params.batch_size),
        labels,
        np.asarray(val_cache["groups"], dtype=str),
        np.asarray(val_predictions["probabilities"]),
        params.last_layer_retraining.strengths,
        score,
        seed,
    )
    logger.info(
        "Last layer refitted on %d validation images at strength %g: screening "
        "score on the half it was chosen on %.4f (the model as trained %.4f).",
        len(labels),
        refit["strength"],
        refit["half_b_score"],
        refit["half_b_score_original"],
    )
    return refit


@typed_params
def predict_refit_probabilities(
    model: keras.Model,
    split_cache: Mapping[str, np.ndarray],
    last_layer_refit: Mapping[str, Any],
    params: EvaluationParams,
) -> dict[str, np.ndarray]:
    """``predict_probabilities`` with the model's output layer refitted on the
    validation split (``refit_last_layer``); no image when it was not refitted or the
    split is empty."""
    if not last_layer_refit or len(split_cache["labels"]) == 0:
        return _no_predictions()
    refitted = with_output_layer(
        model, last_layer_refit["kernel"], last_layer_refit["bias"]
    )
    return predict_probabilities(refitted, split_cache, params)


def _no_predictions() -> dict[str, np.ndarray]:
    """The predictions of a split that is not measured."""
    return {
        "probabilities": np.zeros((0, 0), np.float32),
        "labels": np.zeros(0, np.int64),
        "paths": np.zeros(0, str),
    }


def _labels_paths_and_groups(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The labels, paths and (where known) source groups of a split's images."""
    return {
        "labels": np.asarray(arrays["labels"], dtype=np.int64),
        "paths": np.asarray(arrays["paths"], dtype=str),
        **(
            {"groups": np.asarray(arrays["groups"], dtype=str)}
            if "groups" in arrays
            else {}
        ),
    }


def fit_validation_temperature(val_predictions: Mapping[str, np.ndarray]) -> dict:
    """The temperature that minimises the validation split's NLL (``fit_temperature``),
    with the NLL before and after."""
    fit = fit_temperature(val_predictions["labels"], val_predictions["probabilities"])
    if fit["n"]:
        logger.info(
            "Temperature %.4g fitted on %d validation images: NLL %.4f -> %.4f.",
            fit["temperature"],
            fit["n"],
            fit["nll_before"],
            fit["nll_after"],
        )
        if (
            min(abs(math.log(fit["temperature"]) - b) for b in LOG_TEMPERATURE_BOUNDS)
            < 1e-3
        ):
            logger.warning(
                "The temperature %.4g is at the edge of its search interval: the "
                "model's probabilities carry little information on validation.",
                fit["temperature"],
            )
    else:
        logger.warning("No validation images: the temperature stays 1 (no scaling).")
    return fit


def calibrate_probabilities(
    predictions: Mapping[str, np.ndarray], temperature_fit: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """The split's predictions with temperature-scaled (float64) probabilities."""
    return {
        "probabilities": apply_temperature(
            predictions["probabilities"], float(temperature_fit["temperature"])
        ),
        **_labels_paths_and_groups(predictions),
    }


@typed_params
def choose_review_threshold(
    val_calibrated_predictions: Mapping[str, np.ndarray],
    source_groups: SourceGroupParams,
    params: EvaluationParams,
) -> dict[str, Any]:
    """The lowest calibrated confidence at which the validation predictions kept reach
    ``params.review.target_accuracy``, in every source group of at least
    ``source_groups.min_images`` validation images as well as overall: the
    strictest of those thresholds. 1.0 (everything flagged) if one is not reached."""
    target = params.review.target_accuracy
    labels = val_calibrated_predictions["labels"]
    probabilities = val_calibrated_predictions["probabilities"]
    choice = choose_confidence_threshold(labels, probabilities, target)
    groups = val_calibrated_predictions.get("groups", np.zeros(0, str))
    per_group = {}
    for group in sorted(set(groups)):
        members = groups == group
        if members.sum() >= source_groups.min_images:
            per_group[group] = choose_confidence_threshold(
                labels[members], probabilities[members], target
            )
    strictest = max(
        [choice, *per_group.values()], key=lambda c: c["confidence_threshold"]
    )
    if strictest is not choice:
        choice = _at_threshold(choice, strictest, labels, probabilities)
    choice["chosen_by_group"] = {
        group: c["confidence_threshold"] for group, c in per_group.items()
    }
    _log_review_threshold(choice, target)
    return choice


def _at_threshold(
    choice: Mapping[str, Any],
    strictest: Mapping[str, Any],
    labels: np.ndarray,
    probabilities: np.ndarray,
) -> dict[str, Any]:
    """The overall ``choice`` moved to the ``strictest`` group's threshold, with the
    coverage and accuracy of the validation predictions at it."""
    threshold = strictest["confidence_threshold"]
    kept = confidence(probabilities) >= threshold
    correct = probabilities.argmax(axis=-1) == labels
    return {
        **choice,
        "confidence_threshold": threshold,
        "target_reached": strictest["target_reached"],
        "coverage": float(kept.mean()),
        "accuracy": float(correct[kept].mean()) if kept.any() else None,
    }


def _log_review_threshold(choice: Mapping[str, Any], target: float) -> None:
    if choice["target_reached"]:
        logger.info(
            "Review threshold %.4f (the strictest of overall and per source group: "
            "%s): validation predictions at or above it (%.1f%%) are %.1f%% accurate "
            "(target %.1f%%).",
            choice["confidence_threshold"],
            choice["chosen_by_group"],
            100 * choice["coverage"],
            100 * choice["accuracy"],
            100 * target,
        )
    else:
        logger.warning(
            "No confidence threshold reaches the target accuracy %.1f%% on the "
            "validation split (overall and in every source group): the threshold is "
            "1.0 and every prediction is flagged for review.",
            100 * target,
        )


@typed_params
def record_calibration(
    temperature_fit: Mapping[str, Any],
    review_threshold: Mapping[str, Any],
    image_preprocessing: ImagePreprocessingParams,
) -> dict[str, Any]:
    """What travels with the model (``calibration.json``): the temperature, the review
    threshold (with the one each source group of validation needed), its target
    accuracy, the split both were fitted on, and the image
    preprocessing the model was trained with (so that inference and serving prepare
    images the same way)."""
    return {
        "image_preprocessing": image_preprocessing.model_dump(),
        "temperature": float(temperature_fit["temperature"]),
        "confidence_threshold": float(review_threshold["confidence_threshold"]),
        "target_accuracy": float(review_threshold["target_accuracy"]),
        "target_reached": bool(review_threshold["target_reached"]),
        "fitted_on": "val",
        "fitted_on_images": int(temperature_fit["n"]),
        "nll_uncalibrated": temperature_fit["nll_before"],
        "nll_calibrated": temperature_fit["nll_after"],
        "coverage_at_threshold": review_threshold["coverage"],
        "accuracy_at_threshold": review_threshold["accuracy"],
        "confidence_threshold_by_source_group": review_threshold.get(
            "chosen_by_group", {}
        ),
    }


@typed_params
def evaluate_predictions(  # noqa: PLR0917 (Kedro passes node inputs positionally)
    predictions: Mapping[str, np.ndarray],
    calibrated_predictions: Mapping[str, np.ndarray],
    calibration: Mapping[str, Any],
    classes: Sequence[Mapping[str, Any]],
    source_groups: SourceGroupParams,
    negative_class: str,
    screening: ScreeningParams,
    params: EvaluationParams,
    seed: int,
) -> dict[str, Any]:
    """Every metric of one split; {} for an empty split.

    The metrics of ``classification_metrics`` on the calibrated probabilities (the
    accuracy and confusion matrix are those of the model: calibration keeps the
    argmax), plus ``ece_uncalibrated``, ``log_loss_uncalibrated``,
    ``brier_score_uncalibrated`` and ``reliability_uncalibrated`` of the model's own
    probabilities, the review threshold's ``coverage_at_threshold`` and
    ``accuracy_at_threshold``, and the screening metrics (``screening_metrics``:
    any tumour against ``negative_class``), and where the
    images' source groups are known, accuracy and tumour sensitivity per group with
    the worst-group and group-balanced accuracy (``source_group_metrics``) and the
    screening criterion's ``screening_score``. ``confidence_intervals`` holds the
    bootstrap interval of each headline metric (``_confidence_intervals``).
    """
    labels = predictions["labels"]
    if len(labels) == 0:
        return {}
    names = class_names(classes)
    calibrated = calibrated_predictions["probabilities"]
    metrics = classification_metrics(
        labels, calibrated, names, ece_bins=params.ece_bins
    )
    uncalibrated = classification_metrics(
        labels, predictions["probabilities"], names, ece_bins=params.ece_bins
    )
    negative = negative_class
    screening_figures = screening_metrics(labels, calibrated, names, negative)
    by_group = _group_metrics(predictions, calibrated, names, negative, source_groups)
    return {
        **metrics,
        **{
            f"{key}_uncalibrated": uncalibrated[key]
            for key in ("log_loss", "brier_score", "ece", "reliability")
        },
        "temperature": float(calibration["temperature"]),
        "confidence_threshold": float(calibration["confidence_threshold"]),
        "target_accuracy": float(calibration["target_accuracy"]),
        **review_metrics(labels, calibrated, calibration),
        "negative_class": negative,
        **screening_figures,
        **by_group,
        "screening_score": screening_score(
            by_group.get("min_group_tumour_sensitivity"),
            by_group.get("worst_group_accuracy"),
            screening_figures["tumour_specificity"],
            screening.min_specificity,
        ),
        **_confidence_intervals(
            predictions, calibrated, names, negative, source_groups, params, seed
        ),
    }


def _group_metrics(
    predictions: Mapping[str, np.ndarray],
    calibrated: np.ndarray,
    names: Sequence[str],
    negative: str,
    source_groups: SourceGroupParams,
) -> dict[str, Any]:
    """``source_group_metrics`` where the images' source groups are known, else {}."""
    if "groups" not in predictions:
        return {}
    return source_group_metrics(
        predictions["labels"],
        calibrated,
        predictions["groups"],
        names,
        negative,
        source_groups.min_images,
    )


def _confidence_intervals(  # noqa: PLR0917
    predictions: Mapping[str, np.ndarray],
    calibrated: np.ndarray,
    names: Sequence[str],
    negative: str,
    source_groups: SourceGroupParams,
    params: EvaluationParams,
    seed: int,
) -> dict[str, Any]:
    """``bootstrap``: how the intervals were drawn, and ``confidence_intervals``:
    ``{metric: {"estimate", "low", "high"}}`` of every headline metric (its MLflow
    name without the split: ``accuracy``, ``macro_f1``, ``recall_<class>``,
    ``tumour_sensitivity``, ``tumour_specificity``, ``accuracy_<group>``,
    ``tumour_sensitivity_<group>``, ``worst_group_accuracy``,
    ``group_balanced_accuracy``; see ``core/bootstrap.py``); {} with no resample."""
    bootstrap = params.bootstrap
    if bootstrap.resamples == 0:
        return {}
    intervals = headline_intervals(
        predictions["labels"],
        calibrated,
        predictions.get("groups"),
        names,
        negative,
        source_groups.min_images,
        bootstrap.resamples,
        bootstrap.confidence,
        seed,
    )
    return {
        "bootstrap": {
            "method": "percentile, images resampled with replacement",
            "resamples": bootstrap.resamples,
            "confidence": bootstrap.confidence,
            "seed": seed,
        },
        "confidence_intervals": intervals,
    }


def collect_metrics(
    calibration: Mapping[str, Any] | None = None,
    last_layer_refit: Mapping[str, Any] | None = None,
    **metrics_by_split: Mapping[str, Any],
) -> tuple[dict, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, dict[str, float]]]:
    """The metrics of every evaluated split, as JSON, three tables and MLflow metrics.

    Other keyword names are the splits (``val``, ``test``, ``test_dedup``,
    ``external``); empty splits (an absent external test set) are left out. Returns
    the metrics by split, one summary row per split, the per-class table and the
    confusion matrices (long format) of every split, and ``{name: {"value": v,
    "step": 0}}`` for kedro-mlflow's ``MlflowMetricsHistoryDataset``, with the
    ``temperature`` and ``confidence_threshold`` of ``calibration`` and the choice of
    ``last_layer_refit`` (``dfr_strength``, ...).
    """
    evaluated = {split: dict(m) for split, m in metrics_by_split.items() if m}
    for split, metrics in evaluated.items():
        _log_split_metrics(split, metrics)
    return (
        evaluated,
        summary_table(evaluated),
        _by_split(
            metrics_table(metrics).assign(split=split)
            for split, metrics in evaluated.items()
        ),
        _by_split(
            confusion_table(metrics)
            .stack()
            .rename("count")
            .reset_index()
            .assign(split=split)
            for split, metrics in evaluated.items()
        ),
        {**_mlflow_metrics(evaluated, calibration), **_dfr_metrics(last_layer_refit)},
    )


def _by_split(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The frames of every split as one, the ``split`` column first."""
    frames = list(frames)
    if not frames:
        return pd.DataFrame()
    return _front(pd.concat(frames, ignore_index=True), "split")


def _mlflow_metrics(
    evaluated: Mapping[str, Mapping[str, Any]], calibration: Mapping[str, Any] | None
) -> dict[str, dict[str, float]]:
    """Every split's metrics under their MLflow names (the training's per-epoch curves
    are ``epoch_<name>``), with the calibration's temperature and threshold."""
    mlflow_metrics = {
        name: {"value": value, "step": 0}
        for split, metrics in evaluated.items()
        for name, value in flatten_for_mlflow(metrics, split).items()
    }
    for name in ("temperature", "confidence_threshold"):
        if calibration and calibration.get(name) is not None:
            mlflow_metrics[name] = {"value": float(calibration[name]), "step": 0}
    return mlflow_metrics


def _dfr_metrics(
    last_layer_refit: Mapping[str, Any] | None,
) -> dict[str, dict[str, float]]:
    """The last-layer retraining's choice as MLflow metrics (finite values only)."""
    if not last_layer_refit:
        return {}
    values = {
        "dfr_strength": last_layer_refit["strength"],
        "dfr_val_half_b_screening_score": last_layer_refit["half_b_score"],
        "dfr_val_half_b_screening_score_original": last_layer_refit[
            "half_b_score_original"
        ],
        "dfr_preferred": float(last_layer_refit["preferred"]),
    }
    return {
        name: {"value": float(value), "step": 0}
        for name, value in values.items()
        if math.isfinite(value)
    }


def _log_split_metrics(split: str, metrics: Mapping[str, Any]) -> None:
    logger.info(
        "%s: accuracy %.4f, macro F1 %.4f, macro ROC AUC %s, ECE %.4f "
        "(uncalibrated %s), tumour sensitivity %s, specificity %s, missed tumours "
        "%s, coverage at the review threshold %s (%d images).",
        split,
        metrics["accuracy"],
        metrics["macro_avg"]["f1"],
        metrics["macro_avg"]["roc_auc"],
        metrics["ece"],
        _format(metrics.get("ece_uncalibrated")),
        _format(metrics.get("tumour_sensitivity")),
        _format(metrics.get("tumour_specificity")),
        metrics.get("missed_tumours"),
        _format(metrics.get("coverage_at_threshold")),
        metrics["n_samples"],
    )


def _format(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _front(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame[[column, *(c for c in frame.columns if c != column)]]


@typed_params
def load_external_test_set(
    external_test_images: Mapping[str, Callable[[], bytes]],
    classes: Sequence[Mapping[str, Any]],
    image_size: Sequence[int],
    image_preprocessing: ImagePreprocessingParams,
) -> dict[str, np.ndarray]:
    """The external test images, ``<class or alias>/<images>`` (sub-folders searched
    too), prepared like the cached splits; empty arrays when there are none.

    Files outside a folder that names a class, and files that are not readable
    images, are skipped with a warning.
    """
    size = (int(image_size[0]), int(image_size[1]))
    index = {name: i for i, name in enumerate(class_names(classes))}
    labels: dict[str, int] = {}
    ignored: set[str] = set()
    for path in sorted(external_test_images):
        parts = PurePosixPath(path).parts
        name = folder_to_class(parts[0], classes) if len(parts) > 1 else None
        if name is None:
            ignored.add(parts[0])
        else:
            labels[path] = index[name]
    for entry in sorted(ignored):
        logger.warning("Ignoring '%s': it matches no class.", entry)
    decoded = load_images(
        {path: external_test_images[path] for path in labels},
        size,
        image_preprocessing.model_dump(),
    )
    for path, reason in decoded.errors.items():
        logger.warning("Skipping '%s': %s", path, reason)
    if external_test_images:
        logger.info("External test set: %d images.", len(decoded.keys))
    return {
        "images": decoded.images,
        "labels": np.asarray([labels[path] for path in decoded.keys], dtype=np.int64),
        "paths": np.asarray(decoded.keys, dtype=str),
    }
