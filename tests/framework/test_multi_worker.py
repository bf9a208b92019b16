"""Two ``kedro worker`` processes train one model with MultiWorkerMirroredStrategy."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import keras
from mlflow import MlflowClient

from brain_tumor_mri.pipelines.model_training.checkpoints import weights_digest
from tests.conftest import QuickTrainingRun
from tests.helpers.training_projects import (
    HISTORY,
    project_with_training_inputs,
)

MODEL = Path("data/06_models/untrained_model.keras")
TRAINED = Path("data/06_models/trained_model.keras")


def small_classifier_with_batch_norm(size: int) -> keras.Model:
    """A few layers in the model contract's shape, with BatchNormalization as ResNet-50."""
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_workers_train_in_step_and_only_the_chief_keeps_anything(
    quick_training_run: QuickTrainingRun, tmp_path: Path
):
    """Two workers on 127.0.0.1, each in its own project copy as on two machines.

    Both train the same steps to the same weights (BatchNormalization's moving
    statistics included); only the chief (worker 0) writes the model and the history
    and logs, as the one MLflow run, the strategy.
    """
    cluster = {"worker": [f"127.0.0.1:{free_port()}" for _ in range(2)]}
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    projects = [
        project_with_training_inputs(quick_training_run, tmp_path / f"w{i}", every=4)
        for i in range(2)
    ]
    small_classifier_with_batch_norm(64).save(projects[0] / MODEL)
    shutil.copy2(projects[0] / MODEL, projects[1] / MODEL)
    workers = []
    for index, project in enumerate(projects):
        task = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = {
            **os.environ,
            "TF_CONFIG": json.dumps(task),
            "MLFLOW_TRACKING_URI": tracking_uri,
            "COLUMNS": "400",
        }
        with (tmp_path / f"w{index}.log").open("w") as log:
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "kedro", "worker", "--env", "quick"]
                    + ["--pipelines", "model_training"]
                    + ["--params", "model_training.epochs=1,model_training.verbose=2"],
                    cwd=project,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    for worker in workers:
        try:
            worker.wait(timeout=500)
        finally:
            for other in workers:
                if other.poll() is None:
                    other.kill()
    logs = [(tmp_path / f"w{i}.log").read_text() for i in range(2)]
    for worker, log in zip(workers, logs, strict=True):
        assert worker.returncode == 0, log[-3000:]

    steps = [
        re.findall(r"ended after epoch 1 and (\d+) optimizer steps", log)
        for log in logs
    ]
    assert steps[0] == steps[1] and len(steps[0]) == 1 and int(steps[0][0]) > 0
    digests = [re.findall(r"weights: sha256 (\w+)", log) for log in logs]
    chief_model = keras.models.load_model(projects[0] / TRAINED, safe_mode=True)
    assert digests == [[weights_digest(chief_model)]] * 2

    assert "Worker 1 is not the chief" in logs[1]
    assert not (projects[1] / TRAINED).exists()
    assert not (projects[1] / HISTORY).exists()
    assert json.loads((projects[0] / HISTORY).read_text())["epoch"] == [1]

    client = MlflowClient(tracking_uri)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.info.status == "FINISHED"
    assert run.data.tags["distribution_strategy"] == (
        "MultiWorkerMirroredStrategy (2 replicas)"
    )
    assert [
        p.step for p in client.get_metric_history(run.info.run_id, "epoch_loss")
    ] == [1]
