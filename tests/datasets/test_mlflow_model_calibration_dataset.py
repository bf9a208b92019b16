"""MlflowModelCalibrationDataset: the calibration fitted in a model's own run, found
from any kind of model URI."""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from brain_tumor_mri.datasets import (
    MlflowKerasModelDataset,
    MlflowModelCalibrationDataset,
    ModelWithExample,
)
from brain_tumor_mri.datasets.logged_models import latest_model_uri, model_run_id
from tests.conftest import QuickTrainingRun
from tests.helpers.quick_run import REGISTERED_NAME, run_calibration


@pytest.mark.parametrize("kind", ["runs", "registered", "latest"])
def test_calibration_travels_with_the_model(
    kind: str,
    quick_training_run: QuickTrainingRun,
    calibration: dict,
    tracking_uri,
    tmp_path: Path,
):
    """Every kind of model URI finds the calibration fitted in the model's own run."""
    tracking_uri(quick_training_run.tracking_uri)
    client = MlflowClient(quick_training_run.tracking_uri)
    uri = None
    if kind == "runs":
        uri = f"runs:/{quick_training_run.run_id}/model"
    elif kind == "registered":
        (version,) = client.search_model_versions(
            f"name = '{REGISTERED_NAME}' and run_id = '{quick_training_run.run_id}'"
        )
        uri = f"models:/{REGISTERED_NAME}/{version.version}"
    else:
        # As kedro-mlflow does for a session: the newest finished training run.
        mlflow.set_experiment(
            experiment_id=client.get_run(quick_training_run.run_id).info.experiment_id
        )
    loaded = MlflowModelCalibrationDataset(model_uri=uri).load()
    if uri is None:
        # Other tests may add training runs to the store: the newest one's calibration.
        run_id = model_run_id(latest_model_uri())
        calibration = run_calibration(
            QuickTrainingRun(Path(), quick_training_run.tracking_uri, run_id), tmp_path
        )
    assert loaded == calibration
    assert loaded["fitted_on"] == "val"
    assert set(loaded) >= {
        "temperature",
        "confidence_threshold",
        "target_accuracy",
        "target_reached",
    }


def test_a_model_without_calibration_predicts_uncalibrated_and_says_so(
    tmp_path, tracking_uri, caplog
):
    """A model of a run from before calibration: no calibration, a warning."""
    tracking_uri(f"sqlite:///{tmp_path / 'old.db'}")
    mlflow.set_experiment("brain_tumor_mri")
    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Dense(4, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(inputs)
    )
    with mlflow.start_run() as run:
        MlflowKerasModelDataset(save_args={"name": "model"}).save(
            ModelWithExample(keras.Model(inputs, outputs), np.zeros((1, 8, 8, 3)))
        )
    with caplog.at_level(logging.WARNING, logger="brain_tumor_mri"):
        loaded = MlflowModelCalibrationDataset(
            model_uri=f"runs:/{run.info.run_id}/model"
        ).load()
    assert loaded == {}
    assert "has no calibration.json" in caplog.text
    assert "uncalibrated" in caplog.text
