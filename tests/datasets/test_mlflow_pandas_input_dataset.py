"""MlflowPandasInputDataset: a table logged as the run's data set input, with a digest
of every row."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd

from brain_tumor_mri.datasets import MlflowPandasInputDataset
from brain_tumor_mri.datasets.mlflow_pandas_input_dataset import table_digest


def test_data_set_input_has_a_digest_that_follows_the_data(
    tracking_store: str, tmp_path: Path
):
    table = pd.DataFrame(
        {
            "path": ["a.jpg", "b.jpg", "c.jpg"],
            "split": ["train", "train", "test"],
            "sha256": ["1", "2", "3"],
        }
    )
    dataset = MlflowPandasInputDataset(
        name="scans", source=str(tmp_path), count_by="split"
    )
    with mlflow.start_run():
        dataset.save(table)
        (first,) = dataset.load()
    with mlflow.start_run():
        dataset.save(table.assign(sha256=["1", "2", "4"]))
        (second,) = dataset.load()
    assert first["name"] == second["name"] == "scans"
    assert str(tmp_path) in first["source"]
    assert first["tags"] == {
        "mlflow.data.context": "training",
        "split.test": "1",
        "split.train": "2",
    }
    assert '"num_rows": 3' in first["profile"]
    assert first["digest"] != second["digest"]


def test_the_digest_covers_every_row_of_a_large_table():
    """MLflow's own digest stops at 10,000 rows; a manifest of 100k slices must not."""
    paths = [f"{i:06d}.jpg" for i in range(20_000)]
    table = pd.DataFrame({"path": paths, "sha256": paths})
    changed = table.copy()
    changed.loc[19_999, "sha256"] = "another"
    assert table_digest(table) == table_digest(table.copy())
    assert table_digest(table) != table_digest(changed)
    assert len(table_digest(table)) == 8
