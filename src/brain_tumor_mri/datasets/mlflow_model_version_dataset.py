"""A read-only Kedro dataset: a registered model version, with what travels with it."""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import keras
from kedro.io import AbstractDataset, DatasetError

from brain_tumor_mri.datasets.logged_models import (
    load_keras_model_parts,
    load_run_calibration,
    model_run_id,
    resolve_model_version,
)

logger = logging.getLogger(__name__)


class SourceModel(NamedTuple):
    """A model to start from: its Keras model, the calibration of the run that logged
    it, where it came from (``model_uri``, registered ``version`` or None), its input
    example (a frame of base64 images, an image array, or None) and its pyfunc
    ``model_config`` (the limits of a request; {} for a Keras-flavour model)."""

    model: keras.Model
    calibration: dict[str, Any]
    model_uri: str
    version: str | None
    input_example: Any
    model_config: dict[str, Any]


class MlflowModelVersionDataset(AbstractDataset[None, SourceModel]):
    """Loads a registered model version (or any MLflow model) as a ``SourceModel``.

    ``model_uri`` None (or ``models:/<name>/latest``) is the newest version of
    ``registered_model_name``; an alias or a version number is resolved to its
    version once, so that every part comes from the same one. Read-only.

    Examples:
        Using the YAML API:

        ```yaml
        site_source_model:
          type: brain_tumor_mri.datasets.MlflowModelVersionDataset
          registered_model_name: brain_tumor_mri_classifier
          model_uri: ${runtime_params:model_uri,null}
        ```

        Using the Python API:

        >>> MlflowModelVersionDataset(
        ...     registered_model_name="brain_tumor_mri_classifier"
        ... ).load().version
        '3'
    """

    def __init__(
        self,
        *,
        registered_model_name: str,
        model_uri: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a new instance of ``MlflowModelVersionDataset``.

        Args:
            registered_model_name: The registered model whose newest version loads
                when ``model_uri`` is None.
            model_uri: The MLflow model to load; None for the newest version.
            metadata: Any arbitrary metadata; ignored by Kedro.
        """
        self._registered_model_name = registered_model_name
        self._model_uri = model_uri
        self.metadata = metadata

    def load(self) -> SourceModel:
        uri, version = resolve_model_version(
            self._model_uri, self._registered_model_name
        )
        logger.info("Loading the model '%s'.", uri)
        parts = load_keras_model_parts(uri)
        run_id = model_run_id(uri)
        calibration = (load_run_calibration(run_id) if run_id else None) or {}
        if not calibration:
            logger.warning(
                "The model '%s' has no calibration: its probabilities are "
                "uncalibrated and every prediction is flagged for review.",
                uri,
            )
        return SourceModel(
            parts.model,
            calibration,
            uri,
            version,
            parts.input_example,
            parts.model_config,
        )

    def save(self, data: None) -> None:
        raise DatasetError("MlflowModelVersionDataset is read-only.")

    def _describe(self) -> dict[str, Any]:
        return {
            "registered_model_name": self._registered_model_name,
            "model_uri": self._model_uri,
        }
