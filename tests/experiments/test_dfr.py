"""``experiments/dfr.py`` (last-layer retraining) on the quick training run's model and
splits, as a user runs it, and its stratification and weights."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.conftest import PROJECT_ROOT, QuickTrainingRun

SCRIPT = PROJECT_ROOT / "experiments" / "dfr.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dfr", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def test_an_image_alone_in_its_cell_joins_its_class_s_largest_cell():
    dfr = load_script()
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    groups = np.array(["a", "a", "a", "a", "a", "b", "b", "b"])
    strata = dfr.strata(labels, groups)
    assert list(strata) == ["0a", "0a", "0a", "1a", "1a", "1b", "1b", "0a"]
    assert min(np.unique(strata, return_counts=True)[1]) >= 2
    weights = dfr.cell_weights(labels, groups)
    totals = {cell: weights[strata == cell].sum() for cell in ("1a", "1b")}
    assert totals["1a"] == pytest.approx(totals["1b"])
    assert weights.mean() == pytest.approx(1.0)
