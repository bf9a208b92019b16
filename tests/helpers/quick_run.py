"""What the quick training run left that several tests read: its calibration, its
trained model and the name of its registered model."""

from __future__ import annotations

import json
from pathlib import Path

from mlflow import MlflowClient

from tests.conftest import QuickTrainingRun

REGISTERED_NAME = "brain_tumor_mri_classifier"
CLASS_NAMES = ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor")
PROBABILITIES = [f"probability_{name}" for name in CLASS_NAMES]


def run_calibration(quick: QuickTrainingRun, tmp_path: Path) -> dict:
    """The calibration.json that the training run logged to MLflow."""
    path = MlflowClient(quick.tracking_uri).download_artifacts(
        quick.run_id, "calibration.json", str(tmp_path)
    )
    return json.loads(Path(path).read_text())
