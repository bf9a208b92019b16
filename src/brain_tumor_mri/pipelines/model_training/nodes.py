"""Nodes of the model training pipeline."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from brain_tumor_mri.config.base import typed_params
from brain_tumor_mri.config.shared import ScreeningParams, SourceGroupParams
from brain_tumor_mri.core.classes import class_names
from brain_tumor_mri.core.source_groups import group_balanced_weights
from brain_tumor_mri.datasets import ModelWithExample
from brain_tumor_mri.framework.distribution import distribution_strategy
from brain_tumor_mri.pipelines.model_training.devices import (
    resolve_training_setup,
    seed_everything,
)
from brain_tumor_mri.pipelines.model_training.engine import FitSettings, train
from brain_tumor_mri.pipelines.model_training.group_robust import describe_weights
from brain_tumor_mri.pipelines.model_training.params import ModelTrainingParams
from brain_tumor_mri.pipelines.model_training.tf_data import (
    balanced_class_weights,
    evaluation_dataset,
)

logger = logging.getLogger(__name__)


@typed_params
def select_training_setup(
    params: ModelTrainingParams, backbone: Mapping[str, str | None]
) -> dict[str, Any]:
    """The device, precision, XLA, strategy and weights that the training run uses;
    ``backbone`` is model construction's ``{"weights": ...}``."""
    weights = backbone["weights"]
    setup = {
        **resolve_training_setup(
            precision=params.precision,
            jit_compile=params.jit_compile,
            deterministic=params.deterministic,
            distribution=params.distribution,
        ),
        "pretrained": weights is not None,
    }
    logger.info(
        "Training on %s with %s, precision %s (%s), XLA %s, %s weights.",
        setup["device"],
        setup["strategy"],
        setup["precision"],
        setup["precision_reason"],
        "on" if setup["jit_compile"] else "off",
        weights or "random",
    )
    return setup


def _class_weight(
    labels: np.ndarray, num_classes: int, mode: str | None
) -> dict[int, float] | None:
    # "balanced" or None, as params.ModelTrainingParams checked.
    if mode is None:
        return None
    return balanced_class_weights(labels, num_classes)


def _loss_weights(
    train_cache: Mapping[str, np.ndarray],
    num_classes: int,
    params: ModelTrainingParams,
) -> tuple[dict[int, float] | None, np.ndarray | None]:
    """Class weights, or per-image weights that balance the class x source group
    cells (``group_weight``), as ``model_training`` says."""
    labels = np.asarray(train_cache["labels"])
    if not params.group_weight:
        return _class_weight(labels, num_classes, params.class_weight), None
    weights = group_balanced_weights(
        labels, train_cache["groups"], params.group_weight.cap
    )
    logger.info(
        "Loss weights per class x source group cell (class index / group): %s.",
        describe_weights(
            labels,
            train_cache["groups"],
            weights,
            [str(i) for i in range(num_classes)],
        ),
    )
    return None, weights


@typed_params
def train_model(  # noqa: PLR0917 (Kedro passes node inputs positionally)
    untrained_model: keras.Model,
    train_cache: dict[str, np.ndarray],
    val_cache: dict[str, np.ndarray],
    training_setup: dict[str, Any],
    seed: int,
    params: ModelTrainingParams,
    source_groups: SourceGroupParams,
    classes: list[Mapping[str, Any]],
    negative_class: str,
    screening: ScreeningParams,
) -> tuple[keras.Model, dict[str, list]]:
    """Fit the model phase by phase (``engine.train``), resuming from the checkpoint
    of the same run if any.

    Each epoch's metrics, the validation split's group-robust metrics and screening
    score among them (``GroupRobustValidation``), reach the active MLflow run as the
    epoch ends. Returns the trained float32 model and its history, one value per
    finished epoch.
    """
    seed_everything(seed, training_setup["deterministic"])
    num_classes = untrained_model.output_shape[-1]
    class_weight, sample_weights = _loss_weights(train_cache, num_classes, params)
    fit = FitSettings(
        train_cache=train_cache,
        val_cache=val_cache,
        val_data=evaluation_dataset(val_cache, num_classes, params.batch_size),
        num_classes=num_classes,
        class_weight=class_weight,
        sample_weights=sample_weights,
        negative_index=class_names(classes).index(negative_class),
        source_groups=source_groups,
        screening=screening,
        seed=seed,
        params=params,
        setup=training_setup,
        strategy=distribution_strategy(training_setup["distribution"]),
    )
    return train(untrained_model, fit)


def describe_training_run(training_setup: Mapping[str, Any]) -> dict[str, str]:
    """MLflow tags for the run: device, TensorFlow version, precision, strategy, weights."""
    return {
        "device": training_setup["device"],
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "precision": training_setup["precision"],
        "precision_reason": training_setup["precision_reason"],
        "xla": str(training_setup["jit_compile"]).lower(),
        "distribution_strategy": training_setup["strategy"],
        "pretrained": str(training_setup["pretrained"]).lower(),
    }


def attach_input_example(
    trained_model: keras.Model, val_cache: dict[str, np.ndarray]
) -> ModelWithExample:
    """The trained model with one validation image as its MLflow input example."""
    return ModelWithExample(trained_model, np.asarray(val_cache["images"][:1]))
