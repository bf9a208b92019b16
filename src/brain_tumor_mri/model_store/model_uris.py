"""Checking an MLflow model URI before a run or the review page loads the model:
that it resolves, and that it is a model of the kind asked for. Each problem is one
line that names the URI, the MLflow store and how to list its models.

Only the model's ``MLmodel`` file is read (``mlflow.models.Model.load``): no
TensorFlow, no model weights.
"""

from __future__ import annotations

from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import Model

from brain_tumor_mri.serving.artifacts import KERAS_ARTIFACT

HOW_TO_LIST = (
    "List the models with `kedro mlflow ui` (Models: the registered versions; a "
    "run's Artifacts: its models)"
)
MAX_LISTED = 5


class ModelUriError(ValueError):
    """A model URI that does not resolve, or not to a model of the kind asked for."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _registered_models() -> str:
    """``name (latest version N)`` of a few registered models of the store, or ''."""
    try:
        models = MlflowClient().search_registered_models(max_results=MAX_LISTED)
    except MlflowException:
        return ""
    names = [
        f"{model.name} (latest version "
        f"{max(int(v.version) for v in model.latest_versions)})"
        if model.latest_versions
        else model.name
        for model in models
    ]
    return f"; registered here: {', '.join(names)}" if names else ""


def model_flavors(model_uri: str) -> dict[str, Any]:
    """The flavours of the MLflow model at ``model_uri`` (any model URI or folder);
    ``ModelUriError`` if it does not resolve."""
    try:
        return Model.load(model_uri).flavors
    except (MlflowException, OSError) as error:
        reason = error.message if isinstance(error, MlflowException) else str(error)
        raise ModelUriError(
            f"The model URI '{model_uri}' does not resolve in the MLflow store at "
            f"{mlflow.get_tracking_uri()}: {_one_line(reason).rstrip('.')}. "
            f"{HOW_TO_LIST}{_registered_models()}."
        ) from error


def _pyfunc_artifacts(flavors: dict[str, Any]) -> dict[str, Any]:
    return flavors.get("python_function", {}).get("artifacts") or {}


def check_keras_model_uri(model_uri: str) -> None:
    """``ModelUriError`` unless ``model_uri`` resolves to a model with a Keras model
    in it: a Keras-flavour model, or the servable ``ImageClassifier``."""
    flavors = model_flavors(model_uri)
    if "keras" not in flavors and KERAS_ARTIFACT not in _pyfunc_artifacts(flavors):
        raise ModelUriError(
            f"The MLflow model '{model_uri}' has no Keras model: expected a Keras "
            f"flavour or this project's servable model (flavours: "
            f"{', '.join(sorted(flavors))}). {HOW_TO_LIST}."
        )


def not_servable_message(model_uri: str, kind: str) -> str:
    """Why the model at ``model_uri``, of ``kind``, is not the servable model."""
    return (
        f"The MLflow model '{model_uri}' is not this project's servable model (an "
        f"ImageClassifier), but {kind}: give the URI of a registered version "
        "(models:/<name>/<version or @alias>) or of a training run's servable_model "
        "(runs:/<run id>/servable_model)."
    )


def check_servable_model_uri(model_uri: str) -> None:
    """``ModelUriError`` unless ``model_uri`` resolves to this project's servable
    model: a pyfunc with its Keras model as an artifact (the ``ImageClassifier``,
    logged as models from code; loading it checks its class)."""
    flavors = model_flavors(model_uri)
    if KERAS_ARTIFACT in _pyfunc_artifacts(flavors):
        return
    kind = (
        "a Keras model"
        if "keras" in flavors
        else f"a model of the flavours {', '.join(sorted(flavors))}"
    )
    raise ModelUriError(not_servable_message(model_uri, kind))
