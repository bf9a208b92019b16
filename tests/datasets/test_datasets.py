"""The project's Kedro datasets: kedro-datasets' conventions, kedro-mlflow's logging
switch, and the MLflow datasets on a real SQLite store."""

from __future__ import annotations

import inspect
from pathlib import Path

import keras
import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.io import AbstractDataset, DataCatalog, DatasetError
from kedro_mlflow.io.catalog.switch_catalog_logging import switch_catalog_logging

from brain_tumor_mri import datasets
from brain_tumor_mri.datasets import (
    LocalFilesDataset,
    MlflowKerasModelDataset,
    MlflowPandasInputDataset,
    MlflowTagsDataset,
    ModelWithExample,
    NumpyArraysDataset,
)
from brain_tumor_mri.datasets.kedro_mlflow_switch import MlflowLoggingSwitch
from brain_tumor_mri.datasets.mlflow_pandas_input_dataset import table_digest

# They log nothing, so kedro-mlflow's logging switch has nothing to turn off.
READ_ONLY_DATASETS = {
    datasets.MlflowKerasModelUriDataset,
    datasets.MlflowModelCalibrationDataset,
    datasets.MlflowModelVersionDataset,
}
# The package imports each dataset on first use: its names are in __all__.
DATASET_CLASSES = [
    value
    for value in (getattr(datasets, name) for name in datasets.__all__)
    if inspect.isclass(value) and issubclass(value, AbstractDataset)
]


@pytest.fixture
def tracking_store(tmp_path: Path) -> str:
    """A fresh SQLite MLflow store as MLflow's tracking URI for one test."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    return uri


def test_every_dataset_of_the_package_is_exported():
    modules = {
        path.stem
        for path in Path(datasets.__file__).parent.glob("*_dataset.py")
        if path.is_file()
    }
    exported = {cls.__module__.rsplit(".", 1)[-1] for cls in DATASET_CLASSES}
    assert modules == exported


@pytest.mark.parametrize("cls", DATASET_CLASSES, ids=lambda cls: cls.__name__)
def test_datasets_follow_kedro_datasets_conventions(cls: type[AbstractDataset]):
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert parameters, cls
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters), cls
    assert "metadata" in {p.name for p in parameters}
    assert "```yaml" in cls.__doc__ and "type: brain_tumor_mri.datasets." in cls.__doc__
    assert "Args:" in cls.__init__.__doc__
    documented = {p.name for p in parameters}
    assert all(f"{name}:" in cls.__init__.__doc__ for name in documented), cls
    assert "_describe" in vars(cls), f"{cls.__name__} does not describe itself"


def test_a_positional_argument_is_refused(tmp_path: Path):
    with pytest.raises(TypeError):
        NumpyArraysDataset(tmp_path)  # type: ignore[misc]


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


def test_tags_are_set_on_the_active_run_as_strings(tracking_store: str):
    dataset = MlflowTagsDataset()
    with pytest.raises(DatasetError, match="no active MLflow run"):
        dataset.load()
    with mlflow.start_run():
        dataset.save({"device": "CPU", "replicas": 1})
        tags = dataset.load()
    assert (tags["device"], tags["replicas"]) == ("CPU", "1")


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


def test_keras_model_is_logged_and_loaded_back(tracking_store: str):
    inputs = keras.Input((4, 4, 3), dtype="uint8")
    outputs = keras.layers.Dense(2, activation="softmax")(
        keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
    )
    model = keras.Model(inputs, outputs)
    dataset = MlflowKerasModelDataset(save_args={"name": "model"})
    with pytest.raises(DatasetError, match="no model to load"):
        dataset.load()
    example = np.full((1, 4, 4, 3), 200, dtype="uint8")
    with mlflow.start_run():
        dataset.save(ModelWithExample(model, example))
    assert dataset._describe()["model_uri"].startswith("models:/")
    np.testing.assert_allclose(dataset.load()(example), model(example), rtol=1e-6)


def test_local_files_lists_each_linked_folder_once(tmp_path: Path):
    """A link to a folder outside is followed; a link to a folder listed already, a
    loop and a broken link are each one entry whose read says why."""
    root, outside = tmp_path / "images", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    outside.mkdir()
    (root / "a" / "scan.jpg").write_bytes(b"scan")
    (outside / "far.jpg").write_bytes(b"far")
    (root / "far").symlink_to(outside)
    (root / "later").symlink_to(outside)
    (root / "b").symlink_to("a")
    (root / "a" / "up").symlink_to("..")
    (root / "broken.jpg").symlink_to("nowhere.jpg")

    files = LocalFilesDataset(path=root).load()

    assert sorted(files) == [
        "a/scan.jpg",
        "a/up",
        "b",
        "broken.jpg",
        "far/far.jpg",
        "later",
    ]
    assert files["far/far.jpg"]() == b"far"
    for name, reason in {
        "later": "symbolic link to the folder 'far', listed there, not followed",
        "b": "symbolic link to the folder 'a', listed there, not followed",
        "a/up": "symbolic link loop (a link to a folder that contains it), not followed",
        "broken.jpg": "No such file or directory",
    }.items():
        with pytest.raises(OSError) as error:
            files[name]()
        assert error.value.strerror == reason, name
