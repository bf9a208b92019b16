"""A read-only Kedro dataset: the Keras model of any MLflow model, or of the latest run."""

from __future__ import annotations

import logging
from typing import Any

import keras
from kedro.io import AbstractDataset, DatasetError

from brain_tumor_mri.datasets.logged_models import latest_model_uri, load_keras_model

logger = logging.getLogger(__name__)


class MlflowKerasModelUriDataset(AbstractDataset[None, keras.Model]):
    """Loads the Keras model of any MLflow model URI, or of the latest training run.

    ``model_uri`` is any MLflow model URI (``runs:/<run id>/model``,
    ``models:/<name>/<version>``, ``models:/<model id>``, a local folder) of a
    Keras-flavour model or of the servable ``ImageClassifier``; None takes the model
    ``model_name`` of the newest finished run of the experiment that kedro-mlflow set
    from ``mlflow.yml``. Read-only.

    Examples:
        Using the YAML API:

        ```yaml
        inference_model:
          type: brain_tumor_mri.datasets.MlflowKerasModelUriDataset
          model_uri: models:/brain_tumor_mri_classifier/1
        ```

        Using the Python API:

        >>> MlflowKerasModelUriDataset(
        ...     model_uri="models:/brain_tumor_mri_classifier/1"
        ... ).load()
    """

    def __init__(
        self,
        *,
        model_uri: str | None = None,
        model_name: str = "model",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a new instance of ``MlflowKerasModelUriDataset``.

        Args:
            model_uri: The MLflow model to load; None for the latest training run's.
            model_name: The name of the logged model to look for when ``model_uri``
                is None.
            metadata: Any arbitrary metadata; ignored by Kedro.
        """
        self._model_uri = model_uri
        self._model_name = model_name
        self.metadata = metadata

    def load(self) -> keras.Model:
        uri = self._model_uri or latest_model_uri(self._model_name)
        logger.info("Loading the model '%s'.", uri)
        return load_keras_model(uri)

    def save(self, data: None) -> None:
        raise DatasetError("MlflowKerasModelUriDataset is read-only.")

    def _describe(self) -> dict[str, Any]:
        return {"model_uri": self._model_uri, "model_name": self._model_name}
