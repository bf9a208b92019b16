"""``MlflowTagsDataset`` sets tags on the active MLflow run."""

from __future__ import annotations

from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError

from brain_tumor_mri.datasets.kedro_mlflow_switch import MlflowLoggingSwitch


class MlflowTagsDataset(
    MlflowLoggingSwitch, AbstractDataset[dict[str, Any], dict[str, str]]
):
    """``MlflowTagsDataset`` sets a dict of tags on the active MLflow run (values as
    strings) and loads that run's tags.

    Examples:
        Using the YAML API:

        ```yaml
        training_tags:
          type: brain_tumor_mri.datasets.MlflowTagsDataset
        ```

        Using the Python API:

        >>> with mlflow.start_run():
        ...     MlflowTagsDataset().save({"device": "CPU"})
    """

    def __init__(self, *, metadata: dict[str, Any] | None = None) -> None:
        """Creates a new instance of ``MlflowTagsDataset``.

        Args:
            metadata: Any arbitrary metadata. This is ignored by Kedro, but may be
                consumed by users or external plugins.
        """
        self.metadata = metadata

    def load(self) -> dict[str, str]:
        run = mlflow.active_run()
        if run is None:
            raise DatasetError(
                "MlflowTagsDataset: no active MLflow run to read tags from."
            )
        return mlflow.get_run(run.info.run_id).data.tags

    def save(self, data: dict[str, Any]) -> None:
        if self.logging_activated:
            mlflow.set_tags({key: str(value) for key, value in data.items()})

    def _describe(self) -> dict[str, Any]:
        return {"active_run": bool(mlflow.active_run())}
