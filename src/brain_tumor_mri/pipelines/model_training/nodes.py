"""Nodes of the model training pipeline."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from brain_tumor_mri.core.model import set_trainable_stages, with_precision
from brain_tumor_mri.datasets import ModelWithExample
from brain_tumor_mri.pipelines.model_training.checkpoints import (
    CheckpointState,
    EpochCheckpoint,
    TrainingCheckpoint,
    restore_seed_states,
    run_fingerprint,
    weights_digest,
)
from brain_tumor_mri.pipelines.model_training.devices import (
    distribution_strategy,
    resolve_training_setup,
    seed_everything,
    with_batch_norm_synchronized,
)
from brain_tumor_mri.pipelines.model_training.group_robust import (
    GroupRobustValidation,
    describe_weights,
    group_balanced_weights,
)
from brain_tumor_mri.pipelines.model_training.live_metrics import (
    MlflowEpochMetrics,
    log_new_epochs,
)
from brain_tumor_mri.pipelines.model_training.tf_data import (
    balanced_class_weights,
    evaluation_dataset,
    steps_per_epoch,
    training_dataset,
)

logger = logging.getLogger(__name__)

# Parameters that do not change what a run computes, so they do not stop it resuming.
NOT_IN_FINGERPRINT = ("resume", "verbose", "checkpoint_dir")


@dataclass(frozen=True)
class Phase:
    """Epochs trained with one set of trainable layers and one learning rate."""

    name: str
    end_epoch: int
    stages: str | int
    learning_rate: float
    train_batch_norm: bool


def training_phases(params: Mapping[str, Any], pretrained: bool) -> list[Phase]:
    """From scratch: one phase, all layers. Pretrained: frozen warm-up, then fine-tuning."""
    epochs = params["epochs"]
    if not pretrained:
        return [Phase("from_scratch", epochs, "all", params["learning_rate"], True)]
    warmup = min(params["warmup_epochs"], epochs)
    phases = []
    if warmup > 0:
        phases.append(Phase("warm_up", warmup, 0, params["learning_rate"], False))
    if epochs > warmup:
        fine_tune = params["fine_tune"]
        phases.append(
            Phase(
                "fine_tune",
                epochs,
                fine_tune["stages"],
                fine_tune["learning_rate"],
                False,
            )
        )
    return phases


def select_training_setup(
    params: Mapping[str, Any], weights: str | None
) -> dict[str, Any]:
    """The device, precision, XLA, strategy and weights that the training run uses."""
    setup = {**resolve_training_setup(params), "pretrained": weights is not None}
    logger.info(
        "Training on %s with %s, precision %s, XLA %s, %s weights.",
        setup["device"],
        setup["strategy"],
        setup["precision"],
        "on" if setup["jit_compile"] else "off",
        weights or "random",
    )
    return setup


def learning_rate_schedule(
    learning_rate: float, schedule: Mapping[str, Any] | None, epochs: int, steps: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """A constant rate, or a linear warm-up then cosine decay over ``epochs`` epochs."""
    if not schedule or schedule.get("name", "constant") == "constant":
        return learning_rate
    warmup = min(schedule.get("warmup_epochs", 0), epochs - 1) * steps
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate / 100 if warmup else learning_rate,
        decay_steps=max(1, epochs * steps - warmup),
        alpha=schedule.get("final_fraction", 0.0),
        warmup_target=learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def make_optimizer(
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    params: Mapping[str, Any] | None,
) -> keras.optimizers.Optimizer:
    """Adam, or AdamW with decoupled weight decay, as ``model_training.optimizer`` says."""
    params = params or {}
    if params.get("name", "adam") == "adamw":
        return keras.optimizers.AdamW(
            learning_rate, weight_decay=params.get("weight_decay", 0.0)
        )
    return keras.optimizers.Adam(learning_rate)


@dataclass(frozen=True)
class FitSettings:
    """What every phase of one training run fits with: data, weights and settings."""

    train_cache: Mapping[str, np.ndarray]
    val_data: tf.data.Dataset
    num_classes: int
    class_weight: dict[int, float] | None
    sample_weights: np.ndarray | None
    group_validation: GroupRobustValidation | None
    seed: int
    params: Mapping[str, Any]
    setup: Mapping[str, Any]
    strategy: tf.distribute.Strategy

    @property
    def steps(self) -> int:
        return steps_per_epoch(self.train_cache, self.params["batch_size"])


def _compile(model: keras.Model, phase: Phase, epochs: int, fit: FitSettings) -> None:
    rate = learning_rate_schedule(
        phase.learning_rate, fit.params.get("lr_schedule"), epochs, fit.steps
    )
    optimizer = make_optimizer(rate, fit.params.get("optimizer"))
    if fit.setup["precision"] == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(
            label_smoothing=fit.params["label_smoothing"]
        ),
        metrics=["accuracy"],
        jit_compile=fit.setup["jit_compile"],
    )


def _plateau_callbacks(
    params: Mapping[str, Any],
) -> dict[str, keras.callbacks.Callback]:
    callbacks = {}
    if params.get("early_stopping"):
        callbacks["early_stopping"] = keras.callbacks.EarlyStopping(
            **params["early_stopping"], verbose=1
        )
    if params.get("reduce_lr"):
        callbacks["reduce_lr"] = keras.callbacks.ReduceLROnPlateau(
            **params["reduce_lr"], verbose=1
        )
    return callbacks


def _class_weight(
    labels: np.ndarray, num_classes: int, mode: str | None
) -> dict[int, float] | None:
    # "balanced" or None, as model_parameters.ModelTrainingParams checked.
    if mode is None:
        return None
    return balanced_class_weights(labels, num_classes)


def _loss_weights(
    train_cache: Mapping[str, np.ndarray], num_classes: int, params: Mapping[str, Any]
) -> tuple[dict[int, float] | None, np.ndarray | None]:
    """Class weights, or per-image weights that balance the class x source group
    cells (``group_weight``), as ``model_training`` says."""
    labels = np.asarray(train_cache["labels"])
    if not params.get("group_weight"):
        return _class_weight(labels, num_classes, params["class_weight"]), None
    weights = group_balanced_weights(
        labels, train_cache["groups"], params["group_weight"]["cap"]
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
    num_classes: int,
    source_groups: Mapping[str, Any],
    batch_size: int,
) -> GroupRobustValidation | None:
    if "groups" not in val_cache or len(val_cache["labels"]) == 0:
        return None
    return GroupRobustValidation(
        val_cache,
        [str(i) for i in range(num_classes)],
        source_groups["min_images"],
        batch_size,
    )


def _run_checkpoint(  # noqa: PLR0917
    untrained_model: keras.Model,
    caches: tuple[dict[str, np.ndarray], ...],
    seed: int,
    setup: Mapping[str, Any],
    params: Mapping[str, Any],
    strategy: tf.distribute.Strategy,
) -> TrainingCheckpoint:
    """The checkpoint folder of this run, named by its fingerprint; emptied unless resuming."""
    settings = {
        "seed": seed,
        "setup": setup,
        "params": {k: v for k, v in params.items() if k not in NOT_IN_FINGERPRINT},
    }
    checkpoint = TrainingCheckpoint(
        Path(params["checkpoint_dir"])
        / run_fingerprint(untrained_model, caches, settings),
        writable=strategy.extended.should_checkpoint,
    )
    if not params["resume"]:
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


def fit_phases(  # noqa: PLR0917
    model: keras.Model,
    phases: list[Phase],
    state: CheckpointState,
    resumed: bool,
    checkpoint: TrainingCheckpoint,
    fit: FitSettings,
) -> None:
    """Fit each phase that ``state`` has not finished, recording and logging every epoch.

    A phase that starts sets its trainable layers and compiles a new optimizer; the
    phase a resumed run stopped in goes on with the checkpoint's compiled model.
    """
    first = state.phase + int(state.phase_finished) if resumed else 0
    for index in range(first, len(phases)):
        phase = phases[index]
        continuing = resumed and index == state.phase
        if not continuing:
            state.phase, state.phase_finished, state.stopped = index, False, False
            with fit.strategy.scope():
                set_trainable_stages(model, phase.stages, phase.train_batch_norm)
                _compile(model, phase, phase.end_epoch - state.epoch, fit)
        epochs = range(
            state.epoch,
            state.epoch if continuing and state.stopped else phase.end_epoch,
        )
        logger.info(
            "Phase '%s': epochs %d to %d, %s trainable backbone stages, learning rate %g.",
            phase.name,
            epochs.start + 1,
            phase.end_epoch,
            phase.stages,
            phase.learning_rate,
        )
        stateful = _plateau_callbacks(fit.params)
        model.fit(
            training_dataset(
                fit.train_cache,
                fit.num_classes,
                fit.params["batch_size"],
                fit.seed,
                augmentation=fit.params["augmentation"],
                epochs=epochs,
                sample_weights=fit.sample_weights,
            ),
            steps_per_epoch=fit.steps,
            shuffle=False,  # the dataset shuffles, per epoch and seeded
            validation_data=fit.val_data,
            initial_epoch=epochs.start,
            epochs=epochs.stop,
            class_weight=fit.class_weight,
            callbacks=[
                *([fit.group_validation] if fit.group_validation else []),
                *stateful.values(),
                EpochCheckpoint(checkpoint, state, stateful, resume=continuing),
                MlflowEpochMetrics(state.history),
            ],
            verbose=fit.params["verbose"],
        )
        logger.info(
            "Phase '%s' ended after epoch %d and %d optimizer steps.",
            phase.name,
            state.epoch,
            int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        )


def train_model(  # noqa: PLR0917 (Kedro passes node inputs positionally)
    untrained_model: keras.Model,
    train_cache: dict[str, np.ndarray],
    val_cache: dict[str, np.ndarray],
    training_setup: dict[str, Any],
    seed: int,
    params: Mapping[str, Any],
    source_groups: Mapping[str, Any],
) -> tuple[keras.Model, dict[str, list]]:
    """Fit the model phase by phase, resuming from the checkpoint of the same run if any.

    Each epoch's metrics, the validation split's worst-group and group-balanced
    accuracy among them, reach the active MLflow run as the epoch ends. Returns the
    trained float32 model and its history, one value per finished epoch.
    """
    seed_everything(seed, training_setup["deterministic"])
    strategy = distribution_strategy(training_setup["distribution"])
    num_classes = untrained_model.output_shape[-1]
    class_weight, sample_weights = _loss_weights(train_cache, num_classes, params)
    fit = FitSettings(
        train_cache=train_cache,
        val_data=evaluation_dataset(val_cache, num_classes, params["batch_size"]),
        num_classes=num_classes,
        class_weight=class_weight,
        sample_weights=sample_weights,
        group_validation=_group_validation(
            val_cache, num_classes, source_groups, params["batch_size"]
        ),
        seed=seed,
        params=params,
        setup=training_setup,
        strategy=strategy,
    )
    checkpoint = _run_checkpoint(
        untrained_model,
        (train_cache, val_cache),
        seed,
        training_setup,
        params,
        strategy,
    )
    resumed = checkpoint.load_state()
    model = _start_model(untrained_model, checkpoint, resumed, fit)
    state = resumed or CheckpointState()
    log_new_epochs(state.history)
    phases = training_phases(params, training_setup["pretrained"])
    fit_phases(model, phases, state, resumed is not None, checkpoint, fit)
    checkpoint.clear()

    trained = with_precision(model, "float32")
    if strategy.num_replicas_in_sync > 1:
        trained = with_batch_norm_synchronized(trained, False)
    set_trainable_stages(trained, "all", train_batch_norm=True)
    logger.info("Trained model weights: sha256 %s.", weights_digest(trained))
    return trained, state.history


def describe_training_run(training_setup: Mapping[str, Any]) -> dict[str, str]:
    """MLflow tags for the run: device, TensorFlow version, precision, strategy, weights."""
    return {
        "device": training_setup["device"],
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "precision": training_setup["precision"],
        "xla": str(training_setup["jit_compile"]).lower(),
        "distribution_strategy": training_setup["strategy"],
        "pretrained": str(training_setup["pretrained"]).lower(),
    }


def attach_input_example(
    trained_model: keras.Model, val_cache: dict[str, np.ndarray]
) -> ModelWithExample:
    """The trained model with one validation image as its MLflow input example."""
    return ModelWithExample(trained_model, np.asarray(val_cache["images"][:1]))
