"""The training engine: phases of epochs, each compiled with its own optimizer and
fitted on the ``tf.data`` pipeline with the checkpoint and metric callbacks."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from brain_tumor_mri.config.base import typed_params
from brain_tumor_mri.core.model import set_trainable_stages
from brain_tumor_mri.pipelines.model_training.checkpoints import (
    CheckpointState,
    EpochCheckpoint,
    TrainingCheckpoint,
)
from brain_tumor_mri.pipelines.model_training.group_robust import (
    GroupRobustValidation,
)
from brain_tumor_mri.pipelines.model_training.live_metrics import MlflowEpochMetrics
from brain_tumor_mri.pipelines.model_training.params import (
    LrScheduleParams,
    ModelTrainingParams,
    OptimizerParams,
)
from brain_tumor_mri.pipelines.model_training.tf_data import (
    steps_per_epoch,
    training_dataset,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Phase:
    """Epochs trained with one set of trainable layers and one learning rate."""

    name: str
    end_epoch: int
    stages: str | int
    learning_rate: float
    train_batch_norm: bool


@typed_params
def training_phases(params: ModelTrainingParams, pretrained: bool) -> list[Phase]:
    """From scratch: one phase, all layers. Pretrained: frozen warm-up, then fine-tuning."""
    epochs = params.epochs
    if not pretrained:
        return [Phase("from_scratch", epochs, "all", params.learning_rate, True)]
    warmup = min(params.warmup_epochs, epochs)
    phases = []
    if warmup > 0:
        phases.append(Phase("warm_up", warmup, 0, params.learning_rate, False))
    if epochs > warmup:
        fine_tune = params.fine_tune
        phases.append(
            Phase("fine_tune", epochs, fine_tune.stages, fine_tune.learning_rate, False)
        )
    return phases


@typed_params
def learning_rate_schedule(
    learning_rate: float, schedule: LrScheduleParams | None, epochs: int, steps: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """A constant rate, or a linear warm-up then cosine decay over ``epochs`` epochs."""
    if schedule is None or schedule.name == "constant":
        return learning_rate
    warmup = min(schedule.warmup_epochs, epochs - 1) * steps
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate / 100 if warmup else learning_rate,
        decay_steps=max(1, epochs * steps - warmup),
        alpha=schedule.final_fraction,
        warmup_target=learning_rate if warmup else None,
        warmup_steps=warmup,
    )


@typed_params
def make_optimizer(
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    params: OptimizerParams | None,
) -> keras.optimizers.Optimizer:
    """Adam, or AdamW with decoupled weight decay, as ``model_training.optimizer`` says."""
    if params is not None and params.name == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=params.weight_decay)
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
    params: ModelTrainingParams
    setup: Mapping[str, object]
    strategy: tf.distribute.Strategy

    @property
    def steps(self) -> int:
        return steps_per_epoch(self.train_cache, self.params.batch_size)


def compile_phase(
    model: keras.Model, phase: Phase, epochs: int, fit: FitSettings
) -> None:
    """Compile ``model`` with a new optimizer whose schedule spans ``epochs`` epochs."""
    rate = learning_rate_schedule(
        phase.learning_rate, fit.params.lr_schedule, epochs, fit.steps
    )
    optimizer = make_optimizer(rate, fit.params.optimizer)
    if fit.setup["precision"] == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(
            label_smoothing=fit.params.label_smoothing
        ),
        metrics=["accuracy"],
        jit_compile=fit.setup["jit_compile"],
    )


def plateau_callbacks(
    params: ModelTrainingParams,
) -> dict[str, keras.callbacks.Callback]:
    """EarlyStopping and ReduceLROnPlateau, each where ``model_training`` sets it."""
    callbacks = {}
    if params.early_stopping:
        callbacks["early_stopping"] = keras.callbacks.EarlyStopping(
            **params.early_stopping.model_dump(), verbose=1
        )
    if params.reduce_lr:
        callbacks["reduce_lr"] = keras.callbacks.ReduceLROnPlateau(
            **params.reduce_lr.model_dump(), verbose=1
        )
    return callbacks


def _start_phase(
    model: keras.Model,
    phase: Phase,
    index: int,
    state: CheckpointState,
    fit: FitSettings,
) -> None:
    """Set the phase's trainable layers and compile a new optimizer for its epochs."""
    state.phase, state.phase_finished, state.stopped = index, False, False
    with fit.strategy.scope():
        set_trainable_stages(model, phase.stages, phase.train_batch_norm)
        compile_phase(model, phase, phase.end_epoch - state.epoch, fit)


def _phase_callbacks(
    state: CheckpointState,
    continuing: bool,
    checkpoint: TrainingCheckpoint,
    fit: FitSettings,
) -> list[keras.callbacks.Callback]:
    """The callbacks of one phase, in the order that each one's docstring asks for."""
    stateful = plateau_callbacks(fit.params)
    return [
        *([fit.group_validation] if fit.group_validation else []),
        *stateful.values(),
        EpochCheckpoint(checkpoint, state, stateful, resume=continuing),
        MlflowEpochMetrics(state.history),
    ]


def _fit_phase(  # noqa: PLR0917
    model: keras.Model,
    phase: Phase,
    state: CheckpointState,
    continuing: bool,
    checkpoint: TrainingCheckpoint,
    fit: FitSettings,
) -> None:
    """Fit the epochs of ``phase`` that ``state`` has not finished."""
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
    model.fit(
        training_dataset(
            fit.train_cache,
            fit.num_classes,
            fit.params.batch_size,
            fit.seed,
            augmentation=fit.params.augmentation,
            epochs=epochs,
            sample_weights=fit.sample_weights,
        ),
        steps_per_epoch=fit.steps,
        shuffle=False,  # the dataset shuffles, per epoch and seeded
        validation_data=fit.val_data,
        initial_epoch=epochs.start,
        epochs=epochs.stop,
        class_weight=fit.class_weight,
        callbacks=_phase_callbacks(state, continuing, checkpoint, fit),
        verbose=fit.params.verbose,
    )
    logger.info(
        "Phase '%s' ended after epoch %d and %d optimizer steps.",
        phase.name,
        state.epoch,
        int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
    )


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
        continuing = resumed and index == state.phase
        if not continuing:
            _start_phase(model, phases[index], index, state, fit)
        _fit_phase(model, phases[index], state, continuing, checkpoint, fit)
