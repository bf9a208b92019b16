"""Kedro datasets that log to the MLflow run that kedro-mlflow's hook opened.

Their class names start with ``Mlflow`` so that kedro-mlflow switches their logging
off, as it does for its own datasets, for pipelines it does not track.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any, NamedTuple

import keras
import mlflow
import numpy as np
import tensorflow as tf
from kedro.io import AbstractDataset, DatasetError
from kedro_mlflow.io.models import MlflowModelTrackingDataset
from mlflow.models import Model, infer_signature


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


class MlflowKerasModelDataset(MlflowModelTrackingDataset):
    """Logs a Keras model (``mlflow.keras`` flavour) with a signature and an input example.

    Saves a ``ModelWithExample``: the signature is inferred from the example and the
    model's prediction on it. Without ``pip_requirements`` in ``save_args``, the
    running Keras and TensorFlow versions are pinned, which spares MLflow from
    loading the model in a subprocess to infer them. Loads the last logged model.

    Example:
        >>> dataset = MlflowKerasModelDataset(save_args={"name": "model"})
        >>> with mlflow.start_run():
        ...     dataset.save(ModelWithExample(model, images[:1]))
    """

    def __init__(
        self,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            flavor="mlflow.keras",
            load_args=load_args,
            save_args=save_args,
            metadata=metadata,
        )

    def _save(self, data: ModelWithExample) -> None:
        if not self._logging_activated:
            return
        model, example = data
        prediction = keras.ops.convert_to_numpy(model(example, training=False))
        signature = infer_signature(example, prediction)
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
            signature=signature,
            input_example=example,
            **save_args,
        )
        self._last_saved_model_uri = self.model_info.model_uri


class MlflowTagsDataset(AbstractDataset[dict[str, Any], dict[str, str]]):
    """Sets a dict of tags on the active MLflow run; loads that run's tags.

    Example:
        >>> with mlflow.start_run():
        ...     MlflowTagsDataset().save({"device": "CPU"})
    """

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata
        self._logging_activated = True

    def load(self) -> dict[str, str]:
        run = mlflow.active_run()
        if run is None:
            raise DatasetError(
                "MlflowTagsDataset: no active MLflow run to read tags from."
            )
        return mlflow.get_run(run.info.run_id).data.tags

    def save(self, data: dict[str, Any]) -> None:
        if self._logging_activated:
            mlflow.set_tags({key: str(value) for key, value in data.items()})

    def _describe(self) -> dict[str, Any]:
        return {"active_run": bool(mlflow.active_run())}
