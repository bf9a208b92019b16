"""Nodes of the model training pipeline."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from brain_tumor_mri.config.base import typed_params
from brain_tumor_mri.config.shared import ScreeningParams, SourceGroupParams
from brain_tumor_mri.core.classes import class_names
from brain_tumor_mri.core.model import set_trainable_stages, with_precision
from brain_tumor_mri.datasets import ModelWithExample
from brain_tumor_mri.framework.distribution import distribution_strategy
from brain_tumor_mri.pipelines.model_training.checkpoints import (
    CheckpointState,
    TrainingCheckpoint,
    restore_seed_states,
    run_fingerprint,
    weights_digest,
)
from brain_tumor_mri.pipelines.model_training.devices import (
    resolve_training_setup,
    seed_everything,
    with_batch_norm_synchronized,
)
from brain_tumor_mri.pipelines.model_training.engine import (
    FitSettings,
    fit_phases,
    training_phases,
)
from brain_tumor_mri.pipelines.model_training.group_robust import (
    GroupRobustValidation,
    describe_weights,
    group_balanced_weights,
)
from brain_tumor_mri.pipelines.model_training.live_metrics import (
    log_kept_epoch,
    log_new_epochs,
)
from brain_tumor_mri.pipelines.model_training.params import ModelTrainingParams
from brain_tumor_mri.pipelines.model_training.tf_data import (
    balanced_class_weights,
    evaluation_dataset,
)

logger = logging.getLogger(__name__)

# Parameters that do not change what a run computes, so they do not stop it resuming.
NOT_IN_FINGERPRINT = {"resume", "verbose", "checkpoint_dir"}


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


def _group_validation(
    val_cache: Mapping[str, np.ndarray],
    negative_index: int,
    num_classes: int,
    screening: Mapping[str, Any],
) -> GroupRobustValidation | None:
    """The per-epoch group-robust validation; ``screening`` holds the shared
    ``source_groups``, ``screening`` and the batch size."""
    if "groups" not in val_cache or len(val_cache["labels"]) == 0:
        return None
    return GroupRobustValidation(
        val_cache,
        [str(i) for i in range(num_classes)],
        negative_class=str(negative_index),
        min_images=screening["source_groups"].min_images,
        min_specificity=screening["screening"].min_specificity,
        batch_size=screening["batch_size"],
    )


def _fit_settings(  # noqa: PLR0917
    untrained_model: keras.Model,
    caches: tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]],
    training_setup: Mapping[str, Any],
    seed: int,
    params: ModelTrainingParams,
    criterion: Mapping[str, Any],
) -> FitSettings:
    """The data, loss weights, callbacks' inputs and strategy of every phase;
    ``criterion`` holds the negative class's index, ``source_groups`` and
    ``screening``."""
    train_cache, val_cache = caches
    num_classes = untrained_model.output_shape[-1]
    class_weight, sample_weights = _loss_weights(train_cache, num_classes, params)
    return FitSettings(
        train_cache=train_cache,
        val_data=evaluation_dataset(val_cache, num_classes, params.batch_size),
        num_classes=num_classes,
        class_weight=class_weight,
        sample_weights=sample_weights,
        group_validation=_group_validation(
            val_cache,
            criterion["negative_index"],
            num_classes,
            {**criterion, "batch_size": params.batch_size},
        ),
        seed=seed,
        params=params,
        setup=training_setup,
        strategy=distribution_strategy(training_setup["distribution"]),
    )


def _run_checkpoint(
    untrained_model: keras.Model,
    caches: tuple[Mapping[str, np.ndarray], ...],
    seed: int,
    fit: FitSettings,
) -> TrainingCheckpoint:
    """The checkpoint folder of this run, named by its fingerprint; emptied unless resuming."""
    settings = {
        "seed": seed,
        "setup": fit.setup,
        "params": fit.params.model_dump(exclude=NOT_IN_FINGERPRINT),
    }
    checkpoint = TrainingCheckpoint(
        Path(fit.params.checkpoint_dir)
        / run_fingerprint(untrained_model, caches, settings),
        writable=fit.strategy.extended.should_checkpoint,
    )
    if not fit.params.resume:
        checkpoint.clear()
    return checkpoint


def _start_model(
    untrained_model: keras.Model,
    checkpoint: TrainingCheckpoint,
    resumed: CheckpointState | None,
    fit: FitSettings,
) -> keras.Model:
    """The checkpoint's model when resuming, else a copy at the run's precision."""
    with fit.strategy.scope():
        if resumed is None:
            model = with_precision(untrained_model, fit.setup["precision"])
            if fit.strategy.num_replicas_in_sync > 1:
                model = with_batch_norm_synchronized(model, True)
            return model
        logger.info(
            "Resuming from the checkpoint after epoch %d in '%s'.",
            resumed.epoch,
            checkpoint.directory,
        )
        model = checkpoint.load_model(resumed)
        restore_seed_states(model, resumed.seed_states)
        return model


def kept_epoch(state: CheckpointState, params: ModelTrainingParams) -> int:
    """The epoch (from 1) whose weights the trained model has: EarlyStopping's best
    when it restores it, else the last."""
    if not (params.early_stopping and params.early_stopping.restore_best_weights):
        return state.epoch
    stopping = state.callbacks["early_stopping"]
    # A monitor that was never logged leaves ``best`` infinite and nothing restored.
    if not math.isfinite(stopping["best"]):
        return state.epoch
    return int(stopping["best_epoch"]) + 1


def _for_one_device(
    model: keras.Model, strategy: tf.distribute.Strategy
) -> keras.Model:
    """A float32 copy of the trained model for one device, every layer trainable."""
    trained = with_precision(model, "float32")
    if strategy.num_replicas_in_sync > 1:
        trained = with_batch_norm_synchronized(trained, False)
    set_trainable_stages(trained, "all", train_batch_norm=True)
    return trained


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
    """Fit the model phase by phase, resuming from the checkpoint of the same run if any.

    Each epoch's metrics, the validation split's group-robust metrics and screening
    score among them (``GroupRobustValidation``), reach the active MLflow run as the
    epoch ends. Returns the trained float32 model and its history, one value per
    finished epoch.
    """
    seed_everything(seed, training_setup["deterministic"])
    caches = (train_cache, val_cache)
    criterion = {
        "negative_index": class_names(classes).index(negative_class),
        "source_groups": source_groups,
        "screening": screening,
    }
    fit = _fit_settings(
        untrained_model, caches, training_setup, seed, params, criterion
    )
    checkpoint = _run_checkpoint(untrained_model, caches, seed, fit)
    resumed = checkpoint.load_state()
    model = _start_model(untrained_model, checkpoint, resumed, fit)
    state = resumed or CheckpointState()
    log_new_epochs(state.history)
    phases = training_phases(params, training_setup["pretrained"])
    fit_phases(model, phases, state, resumed is not None, checkpoint, fit)
    checkpoint.clear()
    log_kept_epoch(kept_epoch(state, params))

    trained = _for_one_device(model, fit.strategy)
    logger.info("Trained model weights: sha256 %s.", weights_digest(trained))
    return trained, state.history


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
