"""Checkpoints: a run killed after an epoch resumes there, as if never interrupted."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import QuickTrainingRun
from tests.helpers.training_projects import (
    CHECKPOINTS,
    HISTORY,
    HISTORY_KEYS,
    kedro_run,
    project_env,
    project_with_training_inputs,
)


def logged_steps(client: MlflowClient, key: str) -> list[int]:
    """The steps of metric ``key`` in every run of the store, oldest run first."""
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        order_by=["attribute.start_time ASC"],
    )
    return [
        point.step
        for run in runs
        for point in client.get_metric_history(run.info.run_id, key)
    ]


def kill_after_the_first_checkpoint(
    project: Path, client: MlflowClient, log: Path
) -> dict:
    """Run model_training in ``project`` and kill it once epoch 1 is both
    checkpointed and logged to the run; the checkpoint's state."""
    first = kedro_run(project, log, "--pipelines", "model_training")
    state = None
    deadline = time.monotonic() + 400
    while state is None and first.poll() is None and time.monotonic() < deadline:
        states = list((project / CHECKPOINTS).glob("*/state.json"))
        # Killed once epoch 1 is both checkpointed and logged to the run, live.
        if (
            states
            and json.loads(states[0].read_text())["epoch"] >= 1
            and logged_steps(client, "epoch_loss")
        ):
            first.send_signal(signal.SIGKILL)
            state = states[0]
        time.sleep(0.05)
    if first.poll() is None:
        first.kill()
    first.wait()
    output = log.read_text()
    assert state is not None, f"no checkpoint before the run ended:\n{output[-3000:]}"
    assert first.returncode == -signal.SIGKILL
    assert not (project / HISTORY).exists()
    return json.loads(state.read_text())


def test_killed_run_resumes_and_matches_an_uninterrupted_run_with_the_same_seed(
    quick_training_run: QuickTrainingRun, tmp_path: Path
):
    """Kill a run after its first checkpoint and start it again, in new processes.

    The resumed run trains the second epoch only, and its history equals, bit for
    bit, the one of the uninterrupted quick run: same seed on CPU, same history.
    """
    project = project_with_training_inputs(quick_training_run, tmp_path / "project")
    client = MlflowClient(project_env(project)["MLFLOW_TRACKING_URI"])
    checkpoint = kill_after_the_first_checkpoint(
        project, client, tmp_path / "first.log"
    )

    second = kedro_run(
        project, tmp_path / "second.log", "--pipelines", "model_training"
    )
    second.wait(timeout=600)
    output = (tmp_path / "second.log").read_text()
    assert second.returncode == 0, output[-3000:]
    assert f"Resuming from the checkpoint after epoch {checkpoint['epoch']}" in output
    assert "Epoch 1/2" not in output
    history = json.loads((project / HISTORY).read_text())
    assert history["epoch"] == [1, 2]
    finished = checkpoint["epoch"]
    assert {k: v[:finished] for k, v in history.items()} == checkpoint["history"]
    assert not list((project / CHECKPOINTS).glob("*/*"))
    uninterrupted = quick_training_run.project_path / HISTORY
    assert history == json.loads(uninterrupted.read_text())

    # The killed run logged its finished epochs live; the resumed run holds every
    # epoch once: those of the checkpoint, logged on resuming, then the new ones.
    killed, resumed = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        order_by=["attribute.start_time ASC"],
    )
    assert killed.info.status == "RUNNING"
    for run, epochs in ((killed, history["epoch"][:finished]), (resumed, [1, 2])):
        for key in HISTORY_KEYS - {"epoch"}:
            points = client.get_metric_history(run.info.run_id, f"epoch_{key}")
            assert [point.step for point in points] == epochs, key
            assert [point.value for point in points] == pytest.approx(
                history[key][: len(epochs)]
            )
