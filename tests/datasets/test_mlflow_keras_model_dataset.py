"""MlflowKerasModelDataset: a Keras model logged to MLflow and loaded back."""

from __future__ import annotations

import keras
import mlflow
import numpy as np
import pytest
from kedro.io import DatasetError

from brain_tumor_mri.datasets import MlflowKerasModelDataset, ModelWithExample


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
