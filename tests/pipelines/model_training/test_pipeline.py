"""The model_training pipeline on real images: it learns (under MirroredStrategy, a
whole run in a fresh process: tests/end_to_end/test_distributed_training.py)."""

from __future__ import annotations

import json

from tests.conftest import QuickTrainingRun
from tests.helpers.training_projects import HISTORY, HISTORY_KEYS


def test_training_lowers_the_loss(quick_training_run: QuickTrainingRun):
    history = json.loads((quick_training_run.project_path / HISTORY).read_text())
    assert set(history) == HISTORY_KEYS
    assert history["epoch"] == [1, 2]
    assert all(len(values) == 2 for values in history.values())
    assert history["loss"][1] < history["loss"][0]
