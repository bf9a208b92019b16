"""A small real Keras model saved as an MLflow model folder, for the runs that predict
without a training run."""

from __future__ import annotations

from pathlib import Path

import keras
import mlflow


def save_small_model(folder: Path) -> str:
    """A local MLflow Keras model folder in ``folder``: 32x32 RGB in, a
    ``conv5_block3_out`` layer for Grad-CAM, four class probabilities out."""
    inputs = keras.Input((32, 32, 3), name="image")
    features = keras.layers.Conv2D(4, 3, name="conv5_block3_out")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(pooled)
    path = folder / "model"
    mlflow.keras.save_model(keras.Model(inputs, outputs), str(path))
    return str(path)
