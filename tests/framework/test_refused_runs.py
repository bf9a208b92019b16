"""A run refused by a check leaves no MLflow run; one that fails later ends FAILED with
its reason.

Every check that can fail before the first node (parameters, including misspelled
groups; the raw folder's layout; the weights file) runs before kedro-mlflow opens its
run, so the project's real MLflow store is checked for left-over runs after each.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow import MlflowClient
from mlflow.entities import Run

from brain_tumor_mri.config.parameters import ParameterError, check_parameters
from brain_tumor_mri.framework.raw_layout import RawDataLayoutError
from tests.config.test_parameters import project_parameters


def runs_in_store(project: Path) -> list[Run]:
    """Every run of every experiment in the project's MLflow store."""
    database = project / "mlflow.db"
    if not database.exists():
        return []
    client = MlflowClient(f"sqlite:///{database}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments)


def run_in_session(project: Path, pipeline: str, **runtime_params) -> None:
    bootstrap_project(project)
    with KedroSession.create(
        project_path=project, env="quick", runtime_params=runtime_params
    ) as session:
        session.run(pipeline_names=[pipeline])


def test_a_misspelled_group_is_named_with_the_closest_one():
    params = {**project_parameters(), "model_trainig": {"epochs": 1}}
    with pytest.raises(ParameterError) as error:
        check_parameters(params)
    assert (
        "  - model_trainig: unknown parameter, did you mean `model_training`?"
        in error.value.message.splitlines()
    )


@pytest.mark.slow
def test_cli_refuses_a_misspelled_group_before_any_work(project_copy: Path):
    """The tester's command: it trained 2 epochs and registered a model, exit 0."""
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipelines", "training"]
        + ["--env", "quick", "--params", "model_trainig.epochs=1"],
        cwd=project_copy,
        env={
            **os.environ,
            "MLFLOW_TRACKING_URI": f"sqlite:///{project_copy}/mlflow.db",
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "model_trainig: unknown parameter, did you mean `model_training`?" in output
    assert "Traceback" not in output
    assert runs_in_store(project_copy) == []
    assert not any((project_copy / "data").rglob("*.parquet"))


def _missing_class(raw: Path) -> Path:
    for split in ("Training", "Testing"):
        for name in ("glioma_tumor", "meningioma_tumor", "no_tumor"):
            (raw / split / name).mkdir(parents=True)
            (raw / split / name / "a.jpg").write_bytes(b"not looked at")
    return raw


def _a_file(raw: Path) -> Path:
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text("not a folder\n")
    return raw


@pytest.mark.parametrize(
    "make_raw, message",
    [
        (_missing_class, "no folder for class 'pituitary_tumor'"),
        (_a_file, "is a file, not a folder"),
    ],
)
def test_a_bad_raw_folder_leaves_no_mlflow_run(
    project_copy: Path, tmp_path: Path, make_raw, message: str
):
    raw = make_raw(tmp_path / "raw")
    with pytest.raises(RawDataLayoutError, match=message):
        run_in_session(project_copy, "training", raw_data_dir=str(raw))
    assert runs_in_store(project_copy) == []


def test_a_file_that_is_not_a_weights_file_stops_the_run_with_one_line(
    project_copy: Path,
):
    text = project_copy / "weights.h5"
    text.write_text("these are not weights\n")
    with pytest.raises(ParameterError) as error:
        run_in_session(
            project_copy,
            "model_construction",
            model_construction={"weights": str(text)},
        )
    (line,) = [line for line in error.value.message.splitlines() if "weights" in line]
    assert f"'{text}' is not a Keras weights file (HDF5" in line
    assert runs_in_store(project_copy) == []
    assert not (project_copy / "data/06_models/untrained_model.keras").exists()


def test_a_node_that_fails_ends_its_run_failed_with_the_reason(project_copy: Path):
    head = {"hidden_units": [8], "activation": "no_such_activation"}
    with pytest.raises(ValueError, match="no_such_activation"):
        run_in_session(
            project_copy, "model_construction", model_construction={"head": head}
        )
    (run,) = runs_in_store(project_copy)
    assert run.info.status == "FAILED"
    reason = run.data.tags["error"]
    assert "no_such_activation" in reason
    assert "\n" not in reason
