"""kedro-mlflow's logging switch reaches the project's MLflow datasets."""

from __future__ import annotations

import mlflow
import pandas as pd
from kedro.io import DataCatalog
from kedro_mlflow.io.catalog.switch_catalog_logging import switch_catalog_logging

from brain_tumor_mri import datasets
from brain_tumor_mri.datasets import (
    MlflowKerasModelDataset,
    MlflowPandasInputDataset,
    MlflowTagsDataset,
)
from brain_tumor_mri.datasets.kedro_mlflow_switch import MlflowLoggingSwitch
from tests.helpers.datasets import DATASET_CLASSES

# They log nothing, so kedro-mlflow's logging switch has nothing to turn off.
READ_ONLY_DATASETS = {
    datasets.MlflowKerasModelUriDataset,
    datasets.MlflowModelCalibrationDataset,
    datasets.MlflowModelVersionDataset,
}


def test_kedro_mlflow_switches_every_project_mlflow_dataset():
    """Fails when kedro-mlflow's switch no longer reaches the project's datasets (it
    sets a private attribute, named only in datasets/kedro_mlflow_switch.py)."""
    mlflow_classes = [
        c
        for c in DATASET_CLASSES
        if c.__name__.startswith("Mlflow") and c not in READ_ONLY_DATASETS
    ]
    assert len(mlflow_classes) >= 4
    assert all(issubclass(c, MlflowLoggingSwitch) for c in mlflow_classes)
    catalog = DataCatalog(
        datasets={
            "model": MlflowKerasModelDataset(save_args={"name": "model"}),
            "tags": MlflowTagsDataset(),
            "data": MlflowPandasInputDataset(name="d", source="data/01_raw"),
        }
    )
    switch_catalog_logging(catalog, False)
    assert [catalog.get(n).logging_activated for n in catalog] == [False] * 3
    switch_catalog_logging(catalog, True)
    assert [catalog.get(n).logging_activated for n in catalog] == [True] * 3


def test_switched_off_datasets_log_nothing(tracking_store: str):
    tags, data = MlflowTagsDataset(), MlflowPandasInputDataset(name="d", source="x")
    catalog = DataCatalog(datasets={"tags": tags, "data": data})
    switch_catalog_logging(catalog, False)
    with mlflow.start_run() as run:
        tags.save({"device": "CPU"})
        data.save(pd.DataFrame({"path": ["a.jpg"]}))
    logged = mlflow.get_run(run.info.run_id)
    assert "device" not in logged.data.tags
    assert not logged.inputs.dataset_inputs
