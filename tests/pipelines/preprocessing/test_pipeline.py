"""The preprocessing pipeline run in-process, as spaceflights' tests run theirs: a
SequentialRunner on the project catalog (whole `kedro run`s are in
tests/end_to_end/test_preprocessing_run.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from PIL import Image

from brain_tumor_mri.pipelines.preprocessing import create_pipeline
from tests.conftest import copy_project
from tests.helpers.pipeline_runs import run_in_process
from tests.helpers.raw_folders import (
    HOSTILE_REASONS,
    LINKS,
    add_links,
    hostile_formats,
    make_raw_folder,
)


def test_pipeline_runs_with_the_project_catalog(project_copy: Path):
    raw = make_raw_folder(project_copy / "synthetic_raw")
    catalog, outputs = run_in_process(
        project_copy, create_pipeline(), raw_data_dir=str(raw)
    )
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


@pytest.mark.slow
def test_same_seed_gives_the_same_split(
    tmp_path: Path, monkeypatch, shared_data_dir: Path
):
    splits = []
    for name in ("first", "second"):
        project = copy_project(tmp_path / name)
        monkeypatch.chdir(project)
        run_in_process(
            project,
            create_pipeline(),
            raw_data_dir=str(shared_data_dir),
            preprocessing={"max_images_per_class": 20},
        )
        splits.append((project / "data" / "03_primary" / "data_split.csv").read_bytes())
    assert splits[0] == splits[1]


def test_a_run_reports_each_link_of_the_raw_folder_once(project_copy: Path):
    """A link loop, a link to itself, a link to a sibling class folder and a broken
    link: the run finishes and the bad-files report names each once, with its reason."""
    raw = make_raw_folder(project_copy / "raw")
    add_links(raw)

    run_in_process(project_copy, create_pipeline(), raw_data_dir=str(raw))

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

    run_in_process(project_copy, create_pipeline(), raw_data_dir=str(link))

    bad = pd.read_csv(project_copy / "data" / "08_reporting" / "bad_files.csv")
    reasons = dict(zip(bad["path"], bad["reason"], strict=True))
    for name, reason in HOSTILE_REASONS.items():
        assert reasons[f"Training/glioma_tumor/{name}"].startswith(reason)
    client = MlflowClient(f"sqlite:///{project_copy / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    (run,) = client.search_runs(experiments)
    (entry,) = run.inputs.dataset_inputs
    assert json.loads(entry.dataset.source) == {"uri": str(link)}
