"""MlflowKerasModelUriDataset: the Keras model of any MLflow model URI, or of the
newest training run."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from kedro.io import DatasetError
from mlflow import MlflowClient

from brain_tumor_mri.datasets import MlflowKerasModelUriDataset
from tests.conftest import QuickTrainingRun
from tests.helpers.quick_run import REGISTERED_NAME


@pytest.mark.parametrize("kind", ["runs", "registered"])
def test_any_mlflow_model_uri_loads_the_trained_model(
    kind: str, quick_training_run: QuickTrainingRun, trained_model, tracking_uri
):
    tracking_uri(quick_training_run.tracking_uri)
    client = MlflowClient(quick_training_run.tracking_uri)
    if kind == "runs":
        uri = f"runs:/{quick_training_run.run_id}/model"
    else:
        (version,) = client.search_model_versions(
            f"name = '{REGISTERED_NAME}' and run_id = '{quick_training_run.run_id}'"
        )
        uri = f"models:/{REGISTERED_NAME}/{version.version}"
    model = MlflowKerasModelUriDataset(model_uri=uri).load()
    images = np.random.default_rng(0).integers(
        0, 256, (2, *trained_model.input_shape[1:]), dtype=np.uint8
    )
    np.testing.assert_allclose(
        model.predict_on_batch(images),
        trained_model.predict_on_batch(images),
        atol=1e-6,
    )


def test_no_training_run_is_a_clear_error(tmp_path, tracking_uri):
    tracking_uri(f"sqlite:///{tmp_path / 'empty.db'}")
    mlflow.set_experiment("brain_tumor_mri")
    with pytest.raises(
        DatasetError, match="run `kedro run --pipelines training` first"
    ):
        MlflowKerasModelUriDataset().load()
