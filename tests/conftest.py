"""Shared fixtures: the real data set and throw-away copies of the project."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow import MlflowClient
from mlflow.environment_variables import MLFLOW_EXPERIMENT_ID
from mlflow.tracking import fluent as mlflow_fluent

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data" / "brain_tumor_mri"


# Fixtures of the tests that train a model or run whole pipelines (the quick training
# run; a project copy to run Kedro sessions in): a test that uses one, directly or
# through another fixture, is marked ``slow``, which ``pytest -m "not slow"`` skips.
# Tests that run pipelines otherwise carry the mark themselves.
SLOW_FIXTURES = {"quick_training_run", "project_copy"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real data set beside the repository (``../shared/data/brain_tumor_mri``)."""
    if not (SHARED_DATA / "Training").is_dir():
        pytest.fail(
            f"The data set is missing at {SHARED_DATA}; see README.md, 'Get the data'."
        )
    return SHARED_DATA


def copy_project(destination: Path) -> Path:
    """A copy of the project (configuration, source, empty data tree) to run sessions in."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(PROJECT_ROOT / "pyproject.toml", destination / "pyproject.toml")
    shutil.copy2(PROJECT_ROOT / ".telemetry", destination / ".telemetry")
    shutil.copytree(
        PROJECT_ROOT / "src",
        destination / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
        dirs_exist_ok=True,
    )
    shutil.copytree(
        PROJECT_ROOT / "conf",
        destination / "conf",
        ignore=shutil.ignore_patterns("credentials*"),
        dirs_exist_ok=True,
    )
    for layer in sorted((PROJECT_ROOT / "data").iterdir()):
        if layer.is_dir():
            (destination / "data" / layer.name).mkdir(parents=True, exist_ok=True)
    return destination


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project copy as the working directory, with its own MLflow store."""
    project = copy_project(tmp_path / "project")
    monkeypatch.chdir(project)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'mlflow.db'}")
    return project


@pytest.fixture(scope="session")
def small_model_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small real Keras model as a local MLflow model folder, for the inference runs
    that need no training run (saved once: MLflow takes seconds to save a model)."""
    from tests.helpers.small_models import save_small_model  # noqa: PLC0415 (Keras)

    return save_small_model(tmp_path_factory.mktemp("small_model"))


@pytest.fixture(scope="session")
def calibration(
    quick_training_run: QuickTrainingRun, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    """The calibration.json that the quick training run logged to MLflow."""
    from tests.helpers.quick_run import run_calibration  # noqa: PLC0415

    return run_calibration(quick_training_run, tmp_path_factory.mktemp("calibration"))


@pytest.fixture(scope="session")
def trained_model(quick_training_run: QuickTrainingRun):
    """The quick training run's trained Keras model, loaded from its project."""
    from kedro_datasets.tensorflow import TensorFlowModelDataset  # noqa: PLC0415

    path = quick_training_run.project_path / "data/06_models/trained_model.keras"
    return TensorFlowModelDataset(filepath=str(path)).load()


@contextmanager
def mlflow_state_kept() -> Iterator[None]:
    """End any MLflow run left active inside and restore the tracking URI and active
    experiment found on entry.

    An in-process Kedro session points MLflow's global tracking URI and active
    experiment at its own project (kedro-mlflow sets them) and a failing one can leave
    its run active; none of it may reach the next test.
    """
    tracking_uri = mlflow.get_tracking_uri()
    experiment_env = os.environ.get(MLFLOW_EXPERIMENT_ID.name)
    experiment_id = mlflow_fluent._active_experiment_id
    yield
    while mlflow.active_run():
        mlflow.end_run("KILLED")
    mlflow.set_tracking_uri(tracking_uri)
    # kedro-mlflow's mlflow.set_experiment sets both, which would point the next test
    # at an experiment id that its own store lacks. MLflow has no public way to unset
    # the active experiment.
    mlflow_fluent._active_experiment_id = experiment_id
    if experiment_env is None:
        os.environ.pop(MLFLOW_EXPERIMENT_ID.name, None)
    else:
        os.environ[MLFLOW_EXPERIMENT_ID.name] = experiment_env


@pytest.fixture(autouse=True)
def mlflow_state_stays_in_its_test():
    """MLflow's state as the test found it, after each test (``mlflow_state_kept``)."""
    with mlflow_state_kept():
        yield


@pytest.fixture(scope="module")
def chromium() -> None:
    """Chromium for a browser test, checked before its costly fixtures: the test skips
    without it, or fails where ``CI`` is set (see ``tests/helpers/browser.py``)."""
    from tests.helpers.browser import require_chromium  # noqa: PLC0415 (Playwright)

    require_chromium()


@dataclass(frozen=True)
class QuickTrainingRun:
    """A finished quick ``training`` run: its project folder and its MLflow run."""

    project_path: Path
    tracking_uri: str
    run_id: str


@pytest.fixture(scope="session")
def quick_training_run(
    tmp_path_factory: pytest.TempPathFactory, shared_data_dir: Path
) -> QuickTrainingRun:
    """The real ``training`` pipeline, run once per test session with the quick profile."""
    project = copy_project(tmp_path_factory.mktemp("quick_training") / "project")
    tracking_uri = f"sqlite:///{project / 'mlflow.db'}"
    # A session-scoped fixture is set up before the test's own fixtures: the session's
    # MLflow state would otherwise be the state that the test's fixture restores.
    with pytest.MonkeyPatch.context() as patch, mlflow_state_kept():
        patch.chdir(project)
        patch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
        bootstrap_project(project)
        with KedroSession.create(
            project_path=project,
            env="quick",
            runtime_params={"raw_data_dir": str(shared_data_dir)},
        ) as session:
            session.run(pipeline_names=["training"])
    client = MlflowClient(tracking_uri)
    experiments = [
        experiment.experiment_id for experiment in client.search_experiments()
    ]
    (run,) = client.search_runs(experiments)
    return QuickTrainingRun(project, tracking_uri, run.info.run_id)
