"""``MlflowKerasModelDataset`` logs a Keras model to the active MLflow run, with a
signature and an input example."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any, NamedTuple

import keras
import mlflow
import numpy as np
import tensorflow as tf
from kedro.io import AbstractDataset, DatasetError
from mlflow.models import Model, infer_signature
from mlflow.models.model import ModelInfo

from brain_tumor_mri.datasets.kedro_mlflow_switch import MlflowLoggingSwitch


def _save_keras_model(path: str, **kwargs: Any) -> None:
    os.makedirs(path, exist_ok=True)
    mlflow.keras.save_model(path=path, **kwargs)


# mlflow.keras whose save_model makes the model folder first: mlflow.keras.log_model
# fails with an input example otherwise (https://github.com/mlflow/mlflow/issues/16183).
KERAS_FLAVOR = SimpleNamespace(__name__="mlflow.keras", save_model=_save_keras_model)


class ModelWithExample(NamedTuple):
    """A Keras model and an input example from the data, to log as an MLflow model."""

    model: keras.Model
    input_example: np.ndarray


class MlflowKerasModelDataset(
    MlflowLoggingSwitch, AbstractDataset[ModelWithExample, keras.Model]
):
    """``MlflowKerasModelDataset`` logs a Keras model (``mlflow.keras`` flavour) to the
    active MLflow run and loads the last model it logged.

    It saves a ``ModelWithExample``: the signature is inferred from the example and the
    model's prediction on it. Its class name starts with ``Mlflow`` so that
    kedro-mlflow switches it off, as its own datasets, for pipelines it does not track.

    Examples:
        Using the YAML API:

        ```yaml
        mlflow_model:
          type: brain_tumor_mri.datasets.MlflowKerasModelDataset
          save_args:
            name: model
        ```

        Using the Python API:

        >>> dataset = MlflowKerasModelDataset(save_args={"name": "model"})
        >>> with mlflow.start_run():
        ...     dataset.save(ModelWithExample(model, images[:1]))
        >>> dataset.load()  # the model just logged
    """

    def __init__(
        self,
        *,
        save_args: dict[str, Any] | None = None,
        load_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a new instance of ``MlflowKerasModelDataset``.

        Args:
            save_args: Arguments of ``mlflow.keras.log_model``: ``name`` (the model's
                name in the run), ``registered_model_name``, ``pip_requirements``, ...
                Without ``pip_requirements`` the running Keras and TensorFlow versions
                are pinned, which spares MLflow from loading the model in a
                subprocess to infer them.
            load_args: Arguments of ``mlflow.keras.load_model``; ``model_uri`` loads
                that model instead of the last one this dataset logged.
            metadata: Any arbitrary metadata. This is ignored by Kedro, but may be
                consumed by users or external plugins.
        """
        self._save_args = dict(save_args or {})
        self._load_args = dict(load_args or {})
        self._model_uri: str | None = self._load_args.pop("model_uri", None)
        self.model_info: ModelInfo | None = None
        self.metadata = metadata

    def load(self) -> keras.Model:
        if self._model_uri is None:
            raise DatasetError(
                "MlflowKerasModelDataset: no model to load; save one first or give "
                "load_args.model_uri."
            )
        return mlflow.keras.load_model(self._model_uri, **self._load_args)

    def save(self, data: ModelWithExample) -> None:
        if not self.logging_activated:
            return
        model, example = data
        prediction = keras.ops.convert_to_numpy(model(example, training=False))
        save_args = {
            "pip_requirements": [
                f"keras=={keras.__version__}",
                f"tensorflow=={tf.__version__}",
            ],
            **self._save_args,
        }
        self.model_info = Model.log(
            artifact_path=None,
            flavor=KERAS_FLAVOR,
            model=model,
            signature=infer_signature(example, prediction),
            input_example=example,
            **save_args,
        )
        self._model_uri = self.model_info.model_uri

    def _describe(self) -> dict[str, Any]:
        return {
            "save_args": self._save_args,
            "load_args": self._load_args,
            "model_uri": self._model_uri,
        }
