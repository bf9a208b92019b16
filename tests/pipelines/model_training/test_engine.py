"""The training engine: phases, learning-rate schedule, optimizer, the kept epoch."""

from __future__ import annotations

import keras
import pytest

from brain_tumor_mri.pipelines.model_training.checkpoints import CheckpointState
from brain_tumor_mri.pipelines.model_training.engine import (
    kept_epoch,
    learning_rate_schedule,
    make_optimizer,
    training_phases,
)
from brain_tumor_mri.pipelines.model_training.params import ModelTrainingParams
from tests.helpers.training_projects import training_params


def test_cosine_schedule_warms_up_then_decays():
    schedule = learning_rate_schedule(
        1e-3,
        {"name": "cosine", "warmup_epochs": 1, "final_fraction": 0.1},
        epochs=5,
        steps=10,
    )
    rates = [float(schedule(step)) for step in (0, 5, 10, 30, 50)]
    assert rates[0] == pytest.approx(1e-5)
    assert rates[1] == pytest.approx(0.5 * (1e-5 + 1e-3), rel=1e-3)
    assert rates[2] == pytest.approx(1e-3)
    assert rates[2] > rates[3] > rates[4] == pytest.approx(1e-4)
    assert learning_rate_schedule(1e-3, {"name": "constant"}, 5, 10) == 1e-3
    assert isinstance(
        make_optimizer(schedule, {"name": "adamw"}), keras.optimizers.AdamW
    )


def test_phases():
    params = training_params(
        epochs=10,
        learning_rate=1e-3,
        warmup_epochs=3,
        fine_tune={"stages": 2, "learning_rate": 1e-5},
    )
    scratch = training_phases(params, pretrained=False)
    assert [(p.name, p.end_epoch, p.stages) for p in scratch] == [
        ("from_scratch", 10, "all")
    ]
    pretrained = training_phases(params, pretrained=True)
    assert [(p.name, p.end_epoch, p.stages, p.learning_rate) for p in pretrained] == [
        ("warm_up", 3, 0, 1e-3),
        ("fine_tune", 10, 2, 1e-5),
    ]


def test_the_kept_epoch_is_early_stoppings_best_when_it_restores_it():
    params = ModelTrainingParams.model_validate(training_params())
    stopped = {"best": 0.8, "best_epoch": 3, "wait": 2}
    state = CheckpointState(epoch=6, callbacks={"early_stopping": stopped})
    assert kept_epoch(state, params) == 4
    never_measured = {"best": float("-inf"), "best_epoch": 0, "wait": 6}
    state = CheckpointState(epoch=6, callbacks={"early_stopping": never_measured})
    assert kept_epoch(state, params) == 6
    without = params.model_copy(update={"early_stopping": None})
    assert kept_epoch(state, without) == 6
