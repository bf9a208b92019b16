"""Training under MirroredStrategy over two logical CPUs: a whole `training` session
in a fresh process (TensorFlow's logical devices are set before it starts), its log
and its MLflow run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mlflow import MlflowClient

from tests.conftest import QuickTrainingRun
from tests.helpers.training_projects import (
    HISTORY,
    project_env,
    project_with_training_inputs,
    small_classifier,
)

MIRRORED_RUN = """
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)
from pathlib import Path

from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

bootstrap_project(Path.cwd())
params = {"model_training": {"distribution": "mirrored", "epochs": 1}}
with KedroSession.create(env="quick", runtime_params=params) as session:
    session.run(pipeline_names=["model_training"])
"""


def test_mirrored_strategy_over_two_logical_cpus(
    quick_training_run: QuickTrainingRun, tmp_path: Path
):
    """The model_training pipeline under MirroredStrategy, on real images, small model."""
    project = project_with_training_inputs(quick_training_run, tmp_path / "project", 3)
    small_classifier(64).save(project / "data/06_models/untrained_model.keras")
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_RUN],
        check=False,
        cwd=project,
        env=project_env(project),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "MirroredStrategy (2 replicas)" in result.stdout + result.stderr
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.data.tags["distribution_strategy"] == "MirroredStrategy (2 replicas)"
    assert json.loads((project / HISTORY).read_text())["epoch"] == [1]
