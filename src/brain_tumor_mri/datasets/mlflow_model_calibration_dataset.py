"""A read-only Kedro dataset: the calibration of the run that logged an MLflow model."""

from __future__ import annotations

import logging
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from brain_tumor_mri.datasets.logged_models import (
    CALIBRATION_FILE,
    latest_model_uri,
    load_run_calibration,
    model_run_id,
)

logger = logging.getLogger(__name__)


class MlflowModelCalibrationDataset(AbstractDataset[None, dict[str, Any]]):
    """Loads the calibration (``calibration.json``) of the run that logged a model.

    ``model_uri`` is resolved as in ``MlflowKerasModelUriDataset`` (None: the model
    ``model_name`` of the newest finished training run); the calibration is that
    run's, so it is the one fitted for that model. A model whose run has none (a run
    from before calibration) loads ``{}``, and the log says that its predictions are
    uncalibrated and all need review. Read-only.

    Examples:
        Using the YAML API:

        ```yaml
        inference_calibration:
          type: brain_tumor_mri.datasets.MlflowModelCalibrationDataset
          model_uri: models:/brain_tumor_mri_classifier/1
        ```

        Using the Python API:

        >>> MlflowModelCalibrationDataset(
        ...     model_uri="models:/brain_tumor_mri_classifier/1"
        ... ).load()["temperature"]
    """

    def __init__(
        self,
        *,
        model_uri: str | None = None,
        model_name: str = "model",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a new instance of ``MlflowModelCalibrationDataset``.

        Args:
            model_uri: The MLflow model whose run's calibration to load; None for the
                latest training run's model.
            model_name: The name of the logged model to look for when ``model_uri``
                is None.
            metadata: Any arbitrary metadata; ignored by Kedro.
        """
        self._model_uri = model_uri
        self._model_name = model_name
        self.metadata = metadata

    def load(self) -> dict[str, Any]:
        uri = self._model_uri or latest_model_uri(self._model_name)
        run_id = model_run_id(uri)
        calibration = load_run_calibration(run_id) if run_id else None
        if not calibration:
            logger.warning(
                "The model '%s' (run %s) has no %s: its probabilities are "
                "uncalibrated and every prediction is flagged for review.",
                uri,
                run_id,
                CALIBRATION_FILE,
            )
            return {}
        logger.info(
            "Calibration of the model '%s' (run %s): temperature %.4g, review "
            "threshold %.4f (target accuracy %.3f on %s, %s).",
            uri,
            run_id,
            calibration["temperature"],
            calibration["confidence_threshold"],
            calibration["target_accuracy"],
            calibration.get("fitted_on", "val"),
            "reached" if calibration.get("target_reached") else "not reached",
        )
        return calibration

    def save(self, data: None) -> None:
        raise DatasetError("MlflowModelCalibrationDataset is read-only.")

    def _describe(self) -> dict[str, Any]:
        return {"model_uri": self._model_uri, "model_name": self._model_name}
