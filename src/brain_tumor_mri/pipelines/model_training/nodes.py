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

from brain_tumor_mri.model import set_trainable_stages, with_precision
from brain_tumor_mri.pipelines.model_training.checkpoints import (
    CheckpointState,
    EpochCheckpoint,
    TrainingCheckpoint,
    restore_seed_states,
    run_fingerprint,
)
from brain_tumor_mri.pipelines.model_training.data_pipeline import (
    balanced_class_weights,
    evaluation_dataset,
    steps_per_epoch,
    training_dataset,
)
from brain_tumor_mri.pipelines.model_training.devices import (
    distribution_strategy,
    resolve_training_setup,
    seed_everything,
)
from brain_tumor_mri.tracking import ModelWithExample

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


def _compile(  # noqa: PLR0917
    model: keras.Model,
    phase: Phase,
    epochs: int,
    steps: int,
    params: Mapping[str, Any],
    setup: Mapping,
) -> None:
    rate = learning_rate_schedule(
        phase.learning_rate, params.get("lr_schedule"), epochs, steps
    )
    optimizer = make_optimizer(rate, params.get("optimizer"))
    if setup["precision"] == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(
            label_smoothing=params["label_smoothing"]
        ),
        metrics=["accuracy"],
        jit_compile=setup["jit_compile"],
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


def train_model(  # noqa: PLR0917 (Kedro passes node inputs positionally)
    untrained_model: keras.Model,
    train_cache: dict[str, np.ndarray],
    val_cache: dict[str, np.ndarray],
    training_setup: dict[str, Any],
    seed: int,
    params: Mapping[str, Any],
) -> tuple[keras.Model, dict[str, list]]:
    """Fit the model phase by phase, resuming from the checkpoint of the same run if any.

    Returns the trained float32 model and its history, one value per finished epoch.
    """
    setup = training_setup
    seed_everything(seed, setup["deterministic"])
    strategy = distribution_strategy(setup["distribution"])
    num_classes = untrained_model.output_shape[-1]
    batch_size = params["batch_size"]
    val_data = evaluation_dataset(val_cache, num_classes, batch_size)
    class_weight = _class_weight(
        train_cache["labels"], num_classes, params["class_weight"]
    )
    phases = training_phases(params, setup["pretrained"])

    checkpoint = _run_checkpoint(
        untrained_model, (train_cache, val_cache), seed, setup, params, strategy
    )
    resumed = checkpoint.load_state()
    state = resumed or CheckpointState()
    with strategy.scope():
        if resumed:
            logger.info(
                "Resuming from the checkpoint after epoch %d in '%s'.",
                resumed.epoch,
                checkpoint.directory,
            )
            model = checkpoint.load_model(resumed)
            restore_seed_states(model, resumed.seed_states)
        else:
            model = with_precision(untrained_model, setup["precision"])

    first = state.phase + int(state.phase_finished) if resumed else 0
    for index in range(first, len(phases)):
        phase = phases[index]
        continuing = resumed is not None and index == resumed.phase
        if not continuing:
            state.phase, state.phase_finished, state.stopped = index, False, False
            with strategy.scope():
                set_trainable_stages(model, phase.stages, phase.train_batch_norm)
                _compile(
                    model,
                    phase,
                    phase.end_epoch - state.epoch,
                    steps_per_epoch(train_cache, batch_size),
                    params,
                    setup,
                )
        logger.info(
            "Phase '%s': epochs %d to %d, %s trainable backbone stages, learning rate %g.",
            phase.name,
            state.epoch + 1,
            phase.end_epoch,
            phase.stages,
            phase.learning_rate,
        )
        stateful = _plateau_callbacks(params)
        recorder = EpochCheckpoint(checkpoint, state, stateful, resume=continuing)
        epochs = range(
            state.epoch,
            state.epoch if continuing and state.stopped else phase.end_epoch,
        )
        model.fit(
            training_dataset(
                train_cache,
                num_classes,
                batch_size,
                seed,
                augmentation=params["augmentation"],
                epochs=epochs,
            ),
            steps_per_epoch=steps_per_epoch(train_cache, batch_size),
            validation_data=val_data,
            initial_epoch=epochs.start,
            epochs=epochs.stop,
            class_weight=class_weight,
            callbacks=[*stateful.values(), recorder],
            verbose=params["verbose"],
        )
    checkpoint.clear()

    trained = with_precision(model, "float32")
    set_trainable_stages(trained, "all", train_batch_norm=True)
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


def format_metric_histories(
    training_history: Mapping[str, list],
) -> dict[str, list[dict]]:
    """The per-epoch metrics as MLflow metric histories, one step per epoch."""
    epochs = training_history["epoch"]
    return {
        key: [
            {"step": int(epoch), "value": float(value)}
            for epoch, value in zip(epochs, values, strict=True)
        ]
        for key, values in training_history.items()
        if key != "epoch"
    }


def attach_input_example(
    trained_model: keras.Model, val_cache: dict[str, np.ndarray]
) -> ModelWithExample:
    """The trained model with one validation image as its MLflow input example."""
    return ModelWithExample(trained_model, np.asarray(val_cache["images"][:1]))
