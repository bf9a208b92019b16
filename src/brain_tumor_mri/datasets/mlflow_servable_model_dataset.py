"""A Kedro dataset that logs the servable model to the active MLflow run and registers it."""

from __future__ import annotations

import base64
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from kedro.io import AbstractDataset
from mlflow.models import infer_signature

import brain_tumor_mri
from brain_tumor_mri.datasets.kedro_mlflow_switch import MlflowLoggingSwitch
from brain_tumor_mri.serving.artifacts import CALIBRATION_FILE, KERAS_ARTIFACT
from brain_tumor_mri.serving.image_classifier import (
    CALIBRATION_ARTIFACT,
    MODEL_CODE,
    ImageClassifier,
    ServableModel,
    pinned_requirements,
)
from brain_tumor_mri.serving.request import INPUT_COLUMN

logger = logging.getLogger(__name__)


class MlflowServableModelDataset(
    MlflowLoggingSwitch, AbstractDataset[ServableModel, Any]
):
    """Logs a ``ServableModel`` as an ``ImageClassifier`` pyfunc and registers it.

    Saving logs the model (signature, input example, pinned requirements) to the active
    run under ``name`` and registers it as a new version of ``registered_model_name``,
    with the ``version_tags`` of the ``ServableModel``.
    Loading returns the latest registered version as a pyfunc. The class name starts
    with ``Mlflow`` so that kedro-mlflow switches it off for pipelines it does not track.

    Examples:
        Using the YAML API:

        ```yaml
        servable_model:
          type: brain_tumor_mri.datasets.MlflowServableModelDataset
          name: servable_model
          registered_model_name: brain_tumor_mri_classifier
        ```

        Using the Python API:

        >>> dataset = MlflowServableModelDataset(
        ...     registered_model_name="brain_tumor_mri_classifier"
        ... )
        >>> with mlflow.start_run():
        ...     dataset.save(ServableModel(model, classes, png))
    """

    def __init__(
        self,
        *,
        registered_model_name: str,
        name: str = "servable_model",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a new instance of ``MlflowServableModelDataset``.

        Args:
            registered_model_name: The registered model that each save adds a version to.
            name: The name of the logged model in the run.
            metadata: Any arbitrary metadata; ignored by Kedro.
        """
        self._registered_model_name = registered_model_name
        self._name = name
        self.metadata = metadata
        self.model_info: mlflow.models.model.ModelInfo | None = None

    def load(self) -> mlflow.pyfunc.PyFuncModel:
        return mlflow.pyfunc.load_model(f"models:/{self._registered_model_name}/latest")

    def save(self, data: ServableModel) -> None:
        if not self.logging_activated:
            return
        example = pd.DataFrame(
            {INPUT_COLUMN: [base64.b64encode(data.example_image).decode("ascii")]}
        )
        output = ImageClassifier(
            data.model, data.classes, data.calibration, data.limits
        ).predict(None, example)
        with tempfile.TemporaryDirectory() as folder:
            keras_path = Path(folder, "model.keras")
            data.model.save(keras_path)
            code_path = Path(folder, "image_classifier.py")
            code_path.write_text(MODEL_CODE)
            artifacts = {KERAS_ARTIFACT: str(keras_path)}
            if data.calibration:
                calibration_path = Path(folder, CALIBRATION_FILE)
                calibration_path.write_text(json.dumps(data.calibration, indent=2))
                artifacts[CALIBRATION_ARTIFACT] = str(calibration_path)
            self.model_info = mlflow.pyfunc.log_model(
                name=self._name,
                python_model=str(code_path),
                artifacts=artifacts,
                code_paths=[str(Path(brain_tumor_mri.__file__).parent)],
                # MLflow also logs the model config as run parameters.
                model_config={
                    "class_names": list(data.classes),
                    **data.limits._asdict(),
                    "image_formats": list(data.limits.image_formats),
                },
                signature=infer_signature(example, output),
                input_example=example,
                pip_requirements=pinned_requirements(),
                registered_model_name=self._registered_model_name,
            )
        version = self.model_info.registered_model_version
        for key, value in (data.version_tags or {}).items():
            mlflow.MlflowClient().set_model_version_tag(
                self._registered_model_name, str(version), key, value
            )
        logger.info(
            "Registered the servable model as '%s' version %s (%s).",
            self._registered_model_name,
            self.model_info.registered_model_version,
            self.model_info.model_uri,
        )

    def _describe(self) -> dict[str, Any]:
        return {
            "name": self._name,
            "registered_model_name": self._registered_model_name,
        }
