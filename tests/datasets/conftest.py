"""Fixtures of the dataset tests: a throw-away MLflow store."""

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
