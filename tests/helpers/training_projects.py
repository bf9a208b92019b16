"""Project copies with the quick run's training inputs, and Kedro runs in them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import yaml

from brain_tumor_mri.datasets import NumpyArraysDataset
from tests.conftest import PROJECT_ROOT, QuickTrainingRun, copy_project

# The keys of the training history, one list per key.
HISTORY_KEYS = {
    "epoch",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "val_worst_group_accuracy",
    "val_group_balanced_accuracy",
    "val_min_group_tumour_sensitivity",
    "val_min_group_tumours",
    "val_tumour_specificity",
    "val_screening_score",
    "learning_rate",
    "kept_epoch",
}
# The shared groups that train_model reads besides its own, as conf/base ships them
# (a small model's four outputs are the four classes).
SELECTION_PARAMS = {
    "classes": [
        {"name": name}
        for name in ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor")
    ],
    "negative_class": "no_tumor",
    "screening": {"min_specificity": 0.75},
}
HISTORY = Path("data/08_reporting/training_history.json")
CHECKPOINTS = Path("data/06_models/checkpoints")


def load_cache(project: Path, split: str) -> dict[str, np.ndarray]:
    return NumpyArraysDataset(path=project / "data" / "05_model_input" / split).load()


def project_with_training_inputs(
    run: QuickTrainingRun, destination: Path, every: int = 1
) -> Path:
    """A project copy with the quick run's untrained model and caches (every n-th image)."""
    project = copy_project(destination)
    for split in ("train", "val"):
        cache = load_cache(run.project_path, split)
        NumpyArraysDataset(path=project / "data" / "05_model_input" / split).save(
            {name: np.asarray(array[::every]) for name, array in cache.items()}
        )
    for model in (
        "data/06_models/untrained_model.keras",
        "data/06_models/backbone.json",
    ):
        (project / model).write_bytes((run.project_path / model).read_bytes())
    return project


def project_env(project: Path) -> dict[str, str]:
    """The environment of a run in ``project``: its own MLflow store, unwrapped log lines."""
    return {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        "COLUMNS": "400",
    }


def kedro_run(project: Path, log: Path, *args: str) -> subprocess.Popen:
    """``kedro run --env quick ARGS`` in the project, in the background, output to ``log``."""
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "kedro", "run", "--env", "quick", *args],
            cwd=project,
            env=project_env(project),
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def small_classifier(size: int) -> keras.Model:
    """A few layers in the model contract's shape, standing in for ResNet-50 to save time."""
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


def training_params(**overrides: Any) -> dict[str, Any]:
    """``model_training`` as conf/base ships it, with ``overrides`` (top-level keys)."""
    path = PROJECT_ROOT / "conf" / "base" / "parameters_model_training.yml"
    return {**yaml.safe_load(path.read_text())["model_training"], **overrides}
