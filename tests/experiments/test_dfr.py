"""``experiments/dfr.py`` (last-layer retraining) on the quick training run's model and
splits, as a user runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.conftest import PROJECT_ROOT, QuickTrainingRun

SCRIPT = PROJECT_ROOT / "experiments" / "dfr.py"


def run_dfr(quick: QuickTrainingRun, split_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--run-id", quick.run_id]
        + ["--split-dir", str(split_dir)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "MLFLOW_TRACKING_URI": quick.tracking_uri},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_retrains_the_head_and_measures_it_beside_the_original(
    quick_training_run: QuickTrainingRun,
):
    result = run_dfr(
        quick_training_run, quick_training_run.project_path / "data" / "05_model_input"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "chosen C = " in result.stdout
    rows = [
        line.split(" | ")[:2]
        for line in result.stdout.splitlines()
        if line.startswith("| `")
    ]
    assert [split for split, _ in rows] == ["| `test`"] * 2 + ["| `test_dedup`"] * 2
    assert [head.split(" (")[0] for _, head in rows] == ["original", "DFR"] * 2


def test_refuses_a_val_split_that_is_not_the_runs(
    quick_training_run: QuickTrainingRun, tmp_path: Path
):
    """A val cache of another size and other labels (another seed's, say): the
    script says how to cache the right one."""
    source = quick_training_run.project_path / "data" / "05_model_input"
    for split in ("val", "test", "test_dedup"):
        shutil.copytree(source / split, tmp_path / split)
    for key in ("images", "labels", "groups"):
        values = np.load(tmp_path / "val" / f"{key}.npy")
        np.save(tmp_path / "val" / f"{key}.npy", values[:-3])
    result = run_dfr(quick_training_run, tmp_path)
    assert result.returncode != 0
    assert "is not run" in result.stderr
    assert "cache it with the run's seed" in result.stderr
