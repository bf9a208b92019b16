"""The quick training run in MLflow, read back from its SQLite store with MlflowClient."""

from __future__ import annotations

import json

import keras
import mlflow
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from kedro_datasets.tensorflow import TensorFlowModelDataset
from mlflow import MlflowClient

from brain_tumor_mri.datasets import NumpyArraysDataset
from brain_tumor_mri.pipelines.model_training.devices import (
    automatic_precision,
    cpu_flags,
)
from tests.conftest import QuickTrainingRun

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")


@pytest.fixture(scope="module")
def client(quick_training_run: QuickTrainingRun) -> MlflowClient:
    return MlflowClient(quick_training_run.tracking_uri)


@pytest.fixture(scope="module")
def run(
    client: MlflowClient, quick_training_run: QuickTrainingRun
) -> mlflow.entities.Run:
    return client.get_run(quick_training_run.run_id)


def test_one_finished_run_in_the_sqlite_store(
    quick_training_run: QuickTrainingRun, run: mlflow.entities.Run
):
    assert quick_training_run.tracking_uri.startswith("sqlite:///")
    assert (quick_training_run.project_path / "mlflow.db").is_file()
    assert run.info.status == "FINISHED"


def test_run_is_named_after_what_sets_it_apart(run: mlflow.entities.Run):
    """The quick profile: random weights, 64x64 images, two epochs."""
    assert run.info.run_name == "training · quick · random weights · 64x64 · 2 epochs"
    assert run.data.tags["pipeline"] == "training"


def test_data_set_is_logged_as_the_run_input(
    run: mlflow.entities.Run, quick_training_run: QuickTrainingRun, shared_data_dir
):
    (entry,) = run.inputs.dataset_inputs
    split = pd.read_csv(
        quick_training_run.project_path / "data/03_primary/data_split.csv"
    )
    assert entry.dataset.name == "brain_tumor_mri"
    assert json.loads(entry.dataset.source) == {"uri": str(shared_data_dir)}
    assert json.loads(entry.dataset.profile)["num_rows"] == len(split)
    tags = {tag.key: tag.value for tag in entry.tags}
    counts = split["split"].value_counts()
    assert tags == {
        "mlflow.data.context": "training",
        **{f"split.{name}": str(counts[name]) for name in ("test", "train", "val")},
    }
    assert len(entry.dataset.digest) == 8


def test_parameters_are_logged_flattened(run: mlflow.entities.Run):
    params = run.data.params
    assert params["seed"] == "42"
    assert params["image_size"] == "[64, 64]"
    assert params["preprocessing.max_images_per_class"] == "30"
    assert params["model_construction.weights"] == "None"
    assert params["model_construction.head.pooling"] == "avg"
    assert params["model_training.epochs"] == "2"
    assert params["model_training.augmentation.flip"] == "horizontal"
    assert params["model_training.early_stopping.patience"] == "5"


def test_metric_histories_have_one_value_per_epoch(
    client: MlflowClient, quick_training_run: QuickTrainingRun
):
    history = json.loads(
        (
            quick_training_run.project_path / "data/08_reporting/training_history.json"
        ).read_text()
    )
    for key in METRICS:
        logged = client.get_metric_history(quick_training_run.run_id, f"epoch_{key}")
        steps = [metric.step for metric in logged]
        assert steps == history["epoch"] == [1, 2], f"{key} logged at steps {steps}"
        assert [metric.value for metric in logged] == pytest.approx(history[key])


def test_tags(run: mlflow.entities.Run):
    tags = run.data.tags
    assert tags["device"] == "CPU"
    assert tags["tensorflow_version"] == tf.__version__
    assert tags["keras_version"] == keras.__version__
    # precision: auto picks by this machine's CPU (bfloat16 where it is native).
    assert tags["precision"] == automatic_precision(0, cpu_flags())[0]
    assert tags["precision_reason"].startswith("auto: ")
    assert tags["xla"] == "false"
    assert tags["distribution_strategy"] == "DefaultStrategy (1 replica)"
    assert tags["pretrained"] == "false"


def test_trained_model_is_logged_with_signature_and_input_example(
    client: MlflowClient, quick_training_run: QuickTrainingRun, run: mlflow.entities.Run
):
    (logged,) = client.search_logged_models(
        [run.info.experiment_id], filter_string="name = 'model'"
    )
    assert logged.name == "model"
    assert logged.source_run_id == quick_training_run.run_id
    uri = f"models:/{logged.model_id}"
    info = mlflow.models.get_model_info(uri)
    assert "keras" in info.flavors
    (inputs,) = info.signature.inputs.inputs
    (outputs,) = info.signature.outputs.inputs
    assert (inputs.type, inputs.shape) == (np.dtype("uint8"), (-1, 64, 64, 3))
    assert (outputs.type, outputs.shape) == (np.dtype("float32"), (-1, 4))
    assert info.saved_input_example_info["type"] == "ndarray"

    project = quick_training_run.project_path
    images = NumpyArraysDataset(path=project / "data/05_model_input/val").load()[
        "images"
    ][:4]
    trained = TensorFlowModelDataset(
        filepath=str(project / "data/06_models/trained_model.keras")
    ).load()
    logged_model = mlflow.keras.load_model(uri)
    np.testing.assert_allclose(logged_model(images), trained(images), rtol=1e-5)
