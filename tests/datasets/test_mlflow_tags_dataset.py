"""MlflowTagsDataset: the active run's tags, on a real SQLite store."""

from __future__ import annotations

import mlflow
import pytest
from kedro.io import DatasetError

from brain_tumor_mri.datasets import MlflowTagsDataset


def test_tags_are_set_on_the_active_run_as_strings(tracking_store: str):
    dataset = MlflowTagsDataset()
    with pytest.raises(DatasetError, match="no active MLflow run"):
        dataset.load()
    with mlflow.start_run():
        dataset.save({"device": "CPU", "replicas": 1})
        tags = dataset.load()
    assert (tags["device"], tags["replicas"]) == ("CPU", "1")
