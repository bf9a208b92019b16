"""Each epoch's metrics reach the active MLflow run once."""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow import MlflowClient

from brain_tumor_mri.pipelines.model_training.live_metrics import (
    EPOCH_PREFIX,
    log_kept_epoch,
    log_new_epochs,
)


def test_epochs_reach_the_active_run_once_each(tmp_path: Path):
    """A resumed training logging into the run of the interrupted one adds no point;
    the curves are ``epoch_<name>``, leaving the plain names to the kept model."""
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    history = {"epoch": [1], "loss": [0.9], "learning_rate": [1e-3]}
    experiment = mlflow.create_experiment("live_metrics")
    with mlflow.start_run(experiment_id=experiment) as run:
        log_new_epochs(history)
        history = {"epoch": [1, 2], "loss": [0.9, 0.7], "learning_rate": [1e-3] * 2}
        log_new_epochs(history)
        log_new_epochs(history)
        log_kept_epoch(1)
    client = MlflowClient()
    assert client.get_run(run.info.run_id).data.metrics["kept_epoch"] == 1
    for key in ("loss", "learning_rate"):
        assert not client.get_metric_history(run.info.run_id, key)
        points = client.get_metric_history(run.info.run_id, EPOCH_PREFIX + key)
        assert [(p.step, p.value) for p in points] == list(
            zip(history["epoch"], history[key], strict=True)
        )
    log_new_epochs(history)  # no active run: nothing logged, no run started
    assert mlflow.active_run() is None
    assert len(client.search_runs([experiment])) == 1
