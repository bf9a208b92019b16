"""Finding the project's models in MLflow: the latest trained model, the newest
registered version, the Keras model inside any MLflow model, and the calibration of
the run that logged it."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

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


def run_model_uri(run_id: str, name: str = "model") -> str:
    """URI of the model ``name`` that the run ``run_id`` logged."""
    experiment = mlflow.get_run(run_id).info.experiment_id
    (logged,) = mlflow.search_logged_models(
        experiment_ids=[experiment],
        filter_string=f"source_run_id = '{run_id}' and name = '{name}'",
        output_format="list",
    )
    return logged.model_uri


class ModelVersion(NamedTuple):
    """A model to load (``uri``) and its registered ``version`` (None for a model
    that is not a registered version, e.g. ``runs:/<run id>/model``)."""

    uri: str
    version: str | None


def resolve_model_version(model_uri: str | None, registered_name: str) -> ModelVersion:
    """``model_uri`` with its registered version resolved (``models:/<name>/latest``
    and ``models:/<name>@<alias>`` to a number); None: the newest version of
    ``registered_name``."""
    client = MlflowClient()
    if model_uri is None or model_uri == f"models:/{registered_name}/latest":
        versions = client.search_model_versions(f"name = '{registered_name}'")
        if not versions:
            raise DatasetError(
                f"No version of the registered model '{registered_name}' at "
                f"{mlflow.get_tracking_uri()}: run `kedro run --pipelines training` "
                "first, or choose a model with `--params model_uri=URI`."
            )
        newest = max(versions, key=lambda version: int(version.version))
        return ModelVersion(
            f"models:/{registered_name}/{newest.version}", str(newest.version)
        )
    if not model_uri.startswith("models:/"):
        return ModelVersion(model_uri, None)
    name, _, rest = model_uri.removeprefix("models:/").partition("/")
    if "@" in name:
        name, alias = name.split("@", 1)
        version = client.get_model_version_by_alias(name, alias).version
    elif rest.isdigit():
        version = client.get_model_version(name, rest).version
    else:
        return ModelVersion(model_uri, None)
    return ModelVersion(f"models:/{name}/{version}", str(version))


def load_keras_model(model_uri: str) -> keras.Model:
    """The Keras model of an MLflow model: a Keras-flavour model or an ``ImageClassifier``."""
    return load_keras_model_parts(model_uri).model


class KerasModelParts(NamedTuple):
    """The Keras model of an MLflow model, its input example and its model config."""

    model: keras.Model
    input_example: Any
    model_config: dict[str, Any]


def load_keras_model_parts(model_uri: str) -> KerasModelParts:
    """The Keras model of an MLflow model (a Keras-flavour model or an
    ``ImageClassifier``), its input example (None without one) and its pyfunc
    ``model_config`` ({} without one)."""
    with tempfile.TemporaryDirectory() as folder:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=model_uri, dst_path=folder
        )
        logged = Model.load(local)
        flavors = logged.flavors
        example = logged.load_input_example(local)
        config = dict(flavors.get("python_function", {}).get("model_config") or {})
        if "keras" in flavors:
            model = mlflow.keras.load_model(
                local, load_model_kwargs={"compile": False, "safe_mode": True}
            )
            return KerasModelParts(model, example, config)
        artifacts = flavors.get("python_function", {}).get("artifacts", {})
        if KERAS_ARTIFACT not in artifacts:
            raise DatasetError(
                f"The MLflow model '{model_uri}' has no Keras model: expected a Keras "
                f"flavour or an ImageClassifier pyfunc (flavours: {sorted(flavors)})."
            )
        model = keras.saving.load_model(
            Path(local, artifacts[KERAS_ARTIFACT]["path"]),
            compile=False,
            safe_mode=True,
        )
        return KerasModelParts(model, example, config)


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
