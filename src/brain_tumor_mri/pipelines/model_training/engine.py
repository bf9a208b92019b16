"""The training engine: from the untrained model to the trained one, in phases of
epochs, each compiled with its own optimizer and fitted on the ``tf.data`` pipeline
with the group-robust, plateau, checkpoint and metric callbacks, resuming from the
run's checkpoint if there is one."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from brain_tumor_mri.config.base import typed_params
from brain_tumor_mri.config.shared import ScreeningParams, SourceGroupParams
from brain_tumor_mri.core.model import set_trainable_stages
from brain_tumor_mri.pipelines.model_training.checkpoints import (
    CheckpointState,
    EpochCheckpoint,
    TrainingCheckpoint,
    run_fingerprint,
    weights_digest,
)
from brain_tumor_mri.pipelines.model_training.devices import (
    replica_model,
    single_device_model,
)
from brain_tumor_mri.pipelines.model_training.group_robust import (
    GroupRobustValidation,
    ScreeningEarlyStopping,
)
from brain_tumor_mri.pipelines.model_training.live_metrics import (
    MlflowEpochMetrics,
    log_kept_epoch,
    log_new_epochs,
)
from brain_tumor_mri.pipelines.model_training.params import (
    EarlyStoppingParams,
    LrScheduleParams,
    ModelTrainingParams,
    OptimizerParams,
)
from brain_tumor_mri.pipelines.model_training.tf_data import (
    steps_per_epoch,
    training_dataset,
)

logger = logging.getLogger(__name__)

# Parameters that do not change what a run computes, so they do not stop it resuming.
NOT_IN_FINGERPRINT = {"resume", "verbose", "checkpoint_dir"}


@dataclass(frozen=True)
class FitSettings:
    """What one training run fits with: data, loss weights, the selection criterion,
    parameters and devices; ``negative_index`` is the class that means no tumour."""

    train_cache: Mapping[str, np.ndarray]
    val_cache: Mapping[str, np.ndarray]
    val_data: tf.data.Dataset
    num_classes: int
    class_weight: dict[int, float] | None
    sample_weights: np.ndarray | None
    negative_index: int
    source_groups: SourceGroupParams
    screening: ScreeningParams
    seed: int
    params: ModelTrainingParams
    setup: Mapping[str, object]
    strategy: tf.distribute.Strategy

    @property
    def steps(self) -> int:
        return steps_per_epoch(self.train_cache, self.params.batch_size)


def train(
    untrained_model: keras.Model, fit: FitSettings
) -> tuple[keras.Model, dict[str, list]]:
    """Fit the model phase by phase, resuming from the checkpoint of the same run if any.

    Every finished epoch reaches the active MLflow run as it ends. Returns the trained
    float32 model for one device and its history, one value per finished epoch.
    """
    checkpoint = _open_checkpoint(untrained_model, fit)
    resumed = checkpoint.load_state()
    model = _start_model(untrained_model, checkpoint, resumed, fit)
    state = resumed or CheckpointState()
    log_new_epochs(state.history)
    phases = training_phases(fit.params, fit.setup["pretrained"])
    _fit_phases(model, phases, state, resumed is not None, checkpoint, fit)
    checkpoint.clear()
    log_kept_epoch(kept_epoch(state, fit.params))

    trained = single_device_model(model, fit.strategy.num_replicas_in_sync)
    logger.info("Trained model weights: sha256 %s.", weights_digest(trained))
    return trained, state.history


def _open_checkpoint(
    untrained_model: keras.Model, fit: FitSettings
) -> TrainingCheckpoint:
    """The checkpoint folder of this run, named by its fingerprint; emptied unless resuming."""
    settings = {
        "seed": fit.seed,
        "setup": fit.setup,
        "params": fit.params.model_dump(exclude=NOT_IN_FINGERPRINT),
    }
    fingerprint = run_fingerprint(
        untrained_model, (fit.train_cache, fit.val_cache), settings
    )
    checkpoint = TrainingCheckpoint(
        Path(fit.params.checkpoint_dir) / fingerprint,
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
    """The checkpoint's model when resuming, else a copy for the run's replicas."""
    with fit.strategy.scope():
        if resumed is None:
            return replica_model(
                untrained_model,
                fit.setup["precision"],
                fit.strategy.num_replicas_in_sync,
            )
        logger.info(
            "Resuming from the checkpoint after epoch %d in '%s'.",
            resumed.epoch,
            checkpoint.directory,
        )
        return checkpoint.load_model(resumed)


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


def _fit_phases(  # noqa: PLR0917
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
        callbacks=phase_callbacks(state, continuing, checkpoint, fit),
        verbose=fit.params.verbose,
    )
    logger.info(
        "Phase '%s' ended after epoch %d and %d optimizer steps.",
        phase.name,
        state.epoch,
        int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
    )


def early_stopping(
    params: EarlyStoppingParams, screening: ScreeningParams
) -> keras.callbacks.EarlyStopping:
    """Keras' EarlyStopping, or, on ``val_screening_score`` with
    ``screening.sensitivity_ties: standard_error``, ``ScreeningEarlyStopping``."""
    arguments = {**params.model_dump(), "verbose": 1}
    if (
        params.monitor == "val_screening_score"
        and screening.sensitivity_ties == "standard_error"
    ):
        return ScreeningEarlyStopping(
            min_specificity=screening.min_specificity, **arguments
        )
    return keras.callbacks.EarlyStopping(**arguments)


def phase_callbacks(
    state: CheckpointState,
    continuing: bool,
    checkpoint: TrainingCheckpoint,
    fit: FitSettings,
) -> list[keras.callbacks.Callback]:
    """Every callback of one phase, in the order that each one's docstring asks for:
    the group-robust validation, EarlyStopping and ReduceLROnPlateau (each where
    ``model_training`` sets it), the checkpoint, the MLflow metrics."""
    val_cache, params = fit.val_cache, fit.params
    validation = []
    if "groups" in val_cache and len(val_cache["labels"]) > 0:
        validation.append(
            GroupRobustValidation(
                val_cache,
                [str(i) for i in range(fit.num_classes)],
                negative_class=str(fit.negative_index),
                min_images=fit.source_groups.min_images,
                min_specificity=fit.screening.min_specificity,
                batch_size=params.batch_size,
            )
        )
    stateful = {}
    if params.early_stopping:
        stateful["early_stopping"] = early_stopping(
            params.early_stopping, fit.screening
        )
    if params.reduce_lr:
        stateful["reduce_lr"] = keras.callbacks.ReduceLROnPlateau(
            **params.reduce_lr.model_dump(), verbose=1
        )
    return [
        *validation,
        *stateful.values(),
        EpochCheckpoint(
            checkpoint,
            state,
            stateful,
            partial(kept_epoch, params=params),
            resume=continuing,
        ),
        MlflowEpochMetrics(state.history),
    ]
