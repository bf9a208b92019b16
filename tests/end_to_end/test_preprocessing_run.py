"""Preprocessing runs as `kedro run` makes them: a real KedroSession (the project's
hooks, kedro-mlflow's parameters) and the CLI. The pipeline's own results are checked
in-process, in tests/pipelines/preprocessing/test_pipeline.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow import MlflowClient

from brain_tumor_mri.datasets import NumpyArraysDataset
from brain_tumor_mri.framework.raw_layout import RawDataLayoutError
from tests.helpers.raw_folders import make_raw_folder

SUBSET = {"preprocessing": {"max_images_per_class": 5}}


def run_preprocessing(project: Path, raw_dir: Path, **params) -> None:
    bootstrap_project(project)
    with KedroSession.create(
        project_path=project, runtime_params={"raw_data_dir": str(raw_dir), **params}
    ) as session:
        session.run(pipeline_names=["preprocessing"])


def test_session_preprocesses_a_real_subset(project_copy: Path, shared_data_dir: Path):
    run_preprocessing(project_copy, shared_data_dir, **SUBSET)
    data = project_copy / "data"
    manifest = pd.read_parquet(data / "02_intermediate" / "image_manifest.parquet")
    assert manifest.groupby(["split", "label"]).size().to_dict() == {
        (split, label): 5
        for split in ("test", "train")
        for label in ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor")
    }
    split = pd.read_csv(data / "03_primary" / "data_split.csv")
    assert set(split["split"]) == {"train", "val", "test"}
    assert (data / "08_reporting" / "leakage_summary.json").stat().st_size > 0
    assert (data / "08_reporting" / "bad_files.csv").exists()
    for name in ("train", "val", "test", "test_dedup"):
        cache = NumpyArraysDataset(path=data / "05_model_input" / name).load()
        assert cache["images"].dtype == np.uint8
        assert len(cache["images"]) == len(cache["labels"]) == len(cache["paths"])
    # Parameter groups reach MLflow flattened, one key each, as plain values.
    client = MlflowClient(f"sqlite:///{project_copy / 'mlflow.db'}")
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.data.params["preprocessing.max_images_per_class"] == "5"
    assert run.data.params["preprocessing.shortcut_audit.warn_above_majority"] == "0.2"
    assert run.data.params["negative_class"] == "no_tumor"


def test_session_stops_before_any_node_on_a_missing_folder(project_copy: Path):
    with pytest.raises(RawDataLayoutError, match="Raw data folder not found"):
        run_preprocessing(project_copy, project_copy / "nowhere")
    assert not (
        project_copy / "data" / "02_intermediate" / "image_manifest.parquet"
    ).exists()


def test_cli_reports_a_bad_layout_without_a_stack_trace(project_copy: Path):
    raw = make_raw_folder(project_copy / "raw")
    for file in (raw / "Testing" / "no_tumor").iterdir():
        file.unlink()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kedro",
            "run",
            "--pipelines",
            "preprocessing",
            "--params",
            f"raw_data_dir={raw}",
        ],
        cwd=project_copy,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"empty class folder '{raw / 'Testing' / 'no_tumor'}'" in " ".join(
        output.split()
    )
    assert "Traceback" not in output and "╭" not in output
