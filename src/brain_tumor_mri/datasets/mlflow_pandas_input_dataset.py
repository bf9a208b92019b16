"""``MlflowPandasInputDataset`` logs a table as a dataset input of the active MLflow run."""

from __future__ import annotations

import os
from typing import Any

import mlflow
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from mlflow.data.digest_utils import get_normalized_md5_digest

from brain_tumor_mri.datasets.kedro_mlflow_switch import MlflowLoggingSwitch


def table_digest(data: pd.DataFrame) -> str:
    """MLflow's 8-character digest of a table, over all its rows and column names.

    MLflow's own (``compute_pandas_digest``) hashes only the first 10,000 rows, so a
    change further down a large manifest would keep the digest.
    """
    return get_normalized_md5_digest(
        [pd.util.hash_pandas_object(data, index=False).values]
        + [str(column).encode() for column in data.columns]
    )


class MlflowPandasInputDataset(
    MlflowLoggingSwitch, AbstractDataset[pd.DataFrame, list[dict[str, Any]]]
):
    """``MlflowPandasInputDataset`` logs a ``pandas.DataFrame`` as a dataset input of
    the active MLflow run (``mlflow.log_input``), shown on the run's page of the MLflow
    UI: its name, its digest (``table_digest``: over every row, so that other data gives
    another digest), its source, its schema and its row count. The value counts of the
    column ``count_by``, if given, are logged as the input's tags, e.g. ``split.train``.
    Loads the active run's inputs of that name.

    Examples:
        Using the YAML API:

        ```yaml
        training_data_input:
          type: brain_tumor_mri.datasets.MlflowPandasInputDataset
          name: brain_tumor_mri
          source: data/01_raw/brain_tumor_mri
          count_by: split
        ```

        Using the Python API:

        >>> dataset = MlflowPandasInputDataset(
        ...     name="brain_tumor_mri", source="data/01_raw", count_by="split"
        ... )
        >>> with mlflow.start_run():
        ...     dataset.save(pd.DataFrame({"path": ["a.jpg"], "split": ["train"]}))
        ...     dataset.load()[0]["tags"]
        {'mlflow.data.context': 'training', 'split.train': '1'}
    """

    def __init__(
        self,
        *,
        name: str,
        source: str,
        context: str = "training",
        count_by: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a new instance of ``MlflowPandasInputDataset``.

        Args:
            name: The data set's name in MLflow.
            source: Where the data comes from: a local folder (made absolute, its
                symbolic links kept as the user wrote them) or a URI.
            context: What the run used the data for (MLflow's input tag
                ``mlflow.data.context``).
            count_by: A column whose value counts are logged as the input's tags
                ``<count_by>.<value>``; None for none.
            metadata: Any arbitrary metadata. This is ignored by Kedro, but may be
                consumed by users or external plugins.
        """
        self._name = name
        self._source = source if "://" in source else os.path.abspath(source)
        self._context = context
        self._count_by = count_by
        self.metadata = metadata

    def save(self, data: pd.DataFrame) -> None:
        if not self.logging_activated:
            return
        dataset = mlflow.data.from_pandas(
            data, source=self._source, name=self._name, digest=table_digest(data)
        )
        tags = {}
        if self._count_by is not None:
            counts = data[self._count_by].value_counts().sort_index()
            tags = {f"{self._count_by}.{key}": str(n) for key, n in counts.items()}
        mlflow.log_input(dataset, context=self._context, tags=tags)

    def load(self) -> list[dict[str, Any]]:
        run = mlflow.active_run()
        if run is None:
            raise DatasetError(
                "MlflowPandasInputDataset: no active MLflow run to read inputs from."
            )
        return [
            {
                "name": entry.dataset.name,
                "digest": entry.dataset.digest,
                "source": entry.dataset.source,
                "profile": entry.dataset.profile,
                "tags": {tag.key: tag.value for tag in entry.tags},
            }
            for entry in mlflow.get_run(run.info.run_id).inputs.dataset_inputs
            if entry.dataset.name == self._name
        ]

    def _describe(self) -> dict[str, Any]:
        return {
            "name": self._name,
            "source": self._source,
            "context": self._context,
            "count_by": self._count_by,
        }
