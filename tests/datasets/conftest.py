"""Fixtures of the dataset tests: a throw-away MLflow store, or the tracking URI of
another for one test."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest


@pytest.fixture
def tracking_store(tmp_path: Path) -> str:
    """A fresh SQLite MLflow store as MLflow's tracking URI for one test."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    return uri


@pytest.fixture
def tracking_uri():
    """Sets MLflow's tracking URI for one test, as kedro-mlflow does for a session."""
    previous = mlflow.get_tracking_uri()
    yield mlflow.set_tracking_uri
    mlflow.set_tracking_uri(previous)
