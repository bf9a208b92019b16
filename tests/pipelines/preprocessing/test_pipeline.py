"""The preprocessing pipeline through a runner, a real KedroSession and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from mlflow import MlflowClient
from PIL import Image

from brain_tumor_mri.datasets import NumpyArraysDataset
from brain_tumor_mri.framework.raw_layout import RawDataLayoutError
from brain_tumor_mri.pipelines.preprocessing import create_pipeline
from tests.conftest import copy_project
from tests.helpers.raw_folders import (
    HOSTILE_REASONS,
    LINKS,
    add_links,
    hostile_formats,
    make_raw_folder,
)

SUBSET = {"preprocessing": {"max_images_per_class": 5}}


def run_preprocessing(project: Path, raw_dir: Path, **params) -> None:
    bootstrap_project(project)
    with KedroSession.create(
        project_path=project, runtime_params={"raw_data_dir": str(raw_dir), **params}
    ) as session:
        session.run(pipeline_names=["preprocessing"])


def test_pipeline_runs_with_the_project_catalog(project_copy: Path):
    raw = make_raw_folder(project_copy / "synthetic_raw")
    loader = OmegaConfigLoader(
        conf_source=str(project_copy / "conf"),
        base_env="base",
        default_run_env="local",
        runtime_params={"raw_data_dir": str(raw)},
    )
    catalog = DataCatalog.from_config(loader["catalog"])
    parameters = loader["parameters"]
    for name in (
        "classes",
        "seed",
        "image_size",
        "image_preprocessing",
        "preprocessing",
        "source_groups",
        "negative_class",
        "image_input",
    ):
        catalog[f"params:{name}"] = parameters[name]
    # The shortcut audit's metrics and artifact go to an MLflow run, as in a session.
    # An experiment of its own: an earlier module's session may have left another
    # store's experiment id active.
    mlflow.set_tracking_uri(f"sqlite:///{project_copy / 'mlflow.db'}")
    mlflow.set_experiment("preprocessing_catalog")
    with mlflow.start_run():
        outputs = SequentialRunner().run(create_pipeline(), catalog)
    assert {type(dataset).__name__ for dataset in outputs.values()} >= {
        "CSVDataset",
        "JSONDataset",
        "NumpyArraysDataset",
    }
    bad = catalog.load("bad_files_report")
    assert "Training/glioma_tumor/truncated.jpg" in set(bad["path"])
    split = catalog.load("data_split")
    train = catalog.load("train_cache")
    assert train["images"].shape[1:] == (150, 150, 3)
    assert len(train["labels"]) == (split["split"] == "train").sum()
    assert isinstance(train["images"], np.memmap)


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


@pytest.mark.slow
def test_same_seed_gives_the_same_split(
    tmp_path: Path, monkeypatch, shared_data_dir: Path
):
    splits = []
    for name in ("first", "second"):
        project = copy_project(tmp_path / name)
        monkeypatch.chdir(project)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'mlflow.db'}")
        run_preprocessing(
            project, shared_data_dir, preprocessing={"max_images_per_class": 20}
        )
        splits.append((project / "data" / "03_primary" / "data_split.csv").read_bytes())
    assert splits[0] == splits[1]


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


def test_a_session_reports_each_link_of_the_raw_folder_once(project_copy: Path):
    """A link loop, a link to itself, a link to a sibling class folder and a broken
    link: the run finishes and the bad-files report names each once, with its reason."""
    raw = make_raw_folder(project_copy / "raw")
    add_links(raw)

    run_preprocessing(project_copy, raw)

    bad = pd.read_csv(project_copy / "data" / "08_reporting" / "bad_files.csv")
    reported = bad[bad["path"].str.startswith(tuple(LINKS))]
    assert dict(zip(reported["path"], reported["reason"], strict=True)) == {
        path: reason for path, (_, reason) in LINKS.items()
    }
    assert set(reported["status"]) == {"unreadable"}


def test_a_linked_data_folder_is_logged_as_given_and_other_formats_are_named(
    project_copy: Path, tmp_path: Path, shared_data_dir: Path
):
    """Real slices, reached through a symbolic link (the data set "next to the
    repository"), with EPS, GIF, TIFF, WebP and animated PNG files among them."""
    raw = tmp_path / "raw"
    for split in ("Training", "Testing"):
        for folder in sorted((shared_data_dir / split).iterdir()):
            (raw / split / folder.name).mkdir(parents=True)
            for image in sorted(folder.iterdir())[:5]:
                (raw / split / folder.name / image.name).write_bytes(image.read_bytes())
    glioma = raw / "Training" / "glioma_tumor"
    for name, data in hostile_formats(Image.open(glioma / "gg (1).jpg")).items():
        (glioma / name).write_bytes(data)
    link = tmp_path / "data next to the repository"
    link.symlink_to(raw)

    run_preprocessing(project_copy, link)

    bad = pd.read_csv(project_copy / "data" / "08_reporting" / "bad_files.csv")
    reasons = dict(zip(bad["path"], bad["reason"], strict=True))
    for name, reason in HOSTILE_REASONS.items():
        assert reasons[f"Training/glioma_tumor/{name}"].startswith(reason)
    client = MlflowClient(f"sqlite:///{project_copy / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    (run,) = client.search_runs(experiments)
    (entry,) = run.inputs.dataset_inputs
    assert json.loads(entry.dataset.source) == {"uri": str(link)}
