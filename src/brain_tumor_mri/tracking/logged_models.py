"""Finding the project's models in MLflow: the latest trained model, the Keras model
inside any MLflow model, and the calibration of the run that logged it."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import keras
import mlflow
from kedro.io import DatasetError
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import Model

from brain_tumor_mri.serving.artifacts import CALIBRATION_FILE, KERAS_ARTIFACT


def latest_model_uri(name: str = "model") -> str:
    """URI of the model ``name`` of the newest finished run of the active experiment."""
    client = MlflowClient()
    models = mlflow.search_logged_models(
        filter_string=f"name = '{name}'",
        order_by=[{"field_name": "creation_time", "ascending": False}],
        output_format="list",
    )
    for logged in models:
        run_id = logged.source_run_id
        if run_id and client.get_run(run_id).info.status == "FINISHED":
            return logged.model_uri
    raise DatasetError(
        f"No finished MLflow run with a model named '{name}' in the experiment at "
        f"{mlflow.get_tracking_uri()}: run `kedro run --pipelines training` first, or "
        "choose a model with `--params model_uri=URI`."
    )


def load_keras_model(model_uri: str) -> keras.Model:
    """The Keras model of an MLflow model: a Keras-flavour model or an ``ImageClassifier``."""
    with tempfile.TemporaryDirectory() as folder:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=model_uri, dst_path=folder
        )
        flavors = Model.load(local).flavors
        if "keras" in flavors:
            return mlflow.keras.load_model(
                local, load_model_kwargs={"compile": False, "safe_mode": True}
            )
        artifacts = flavors.get("python_function", {}).get("artifacts", {})
        if KERAS_ARTIFACT not in artifacts:
            raise DatasetError(
                f"The MLflow model '{model_uri}' has no Keras model: expected a Keras "
                f"flavour or an ImageClassifier pyfunc (flavours: {sorted(flavors)})."
            )
        return keras.saving.load_model(
            Path(local, artifacts[KERAS_ARTIFACT]["path"]),
            compile=False,
            safe_mode=True,
        )


def model_run_id(model_uri: str) -> str | None:
    """The id of the run that logged the MLflow model at ``model_uri`` (any URI;
    for ``models:/<name>/<version>`` the registry resolves it)."""
    return Model.load(model_uri).run_id


def load_run_calibration(run_id: str) -> dict[str, Any] | None:
    """The ``calibration.json`` of a training run; None if the run has none."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=CALIBRATION_FILE, dst_path=folder
            )
        except (MlflowException, OSError):
            return None
        return json.loads(Path(path).read_text())
