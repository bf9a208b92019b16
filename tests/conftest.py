"""Shared fixtures: the real data set and throw-away copies of the project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data" / "brain_tumor_mri"


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
