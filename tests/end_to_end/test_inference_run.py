"""Batch inference run as a user runs it (`kedro run --pipelines inference`): the
project's hooks clear an earlier run's results and stop a run whose folder is missing
or empty, with one line on the command line.

The model is a small real Keras model saved as an MLflow model folder
(the `small_model_uri` fixture), so that these tests need no training run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from PIL import Image

from brain_tumor_mri.config.parameters import ParameterError
from tests.conftest import copy_project

# Each test runs the inference pipeline in a project copy.
pytestmark = pytest.mark.slow

CLASSES = ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor")
OUTPUT = Path("data/07_model_output/inference")


def kedro_run(project: Path, *params: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipelines", "inference"]
        + (["--params", ",".join(params)] if params else []),
        cwd=project,
        env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_no_readable_file_gives_a_table_of_reasons_and_no_stale_output(
    tmp_path: Path, small_model_uri: str
):
    images = tmp_path / "images"
    images.mkdir()
    (images / "empty.jpg").write_bytes(b"")
    (images / "x.jpg").write_text("a text file with an image's name\n")
    (images / ".DS_Store").write_bytes(bytes(range(256)) * 4)
    Image.new("I;16", (6000, 5000)).save(images / "huge.png")  # 30 MP, 30 KiB
    project = copy_project(tmp_path / "project")
    # The results of an earlier run, which must not look like this run's.
    output = project / OUTPUT
    (output / "gradcam" / "sub").mkdir(parents=True)
    (output / "gradcam" / "sub" / "old.jpg.png").write_bytes(b"old overlay")
    pd.DataFrame({"file": ["old.jpg"], "status": ["predicted"]}).to_csv(
        output / "predictions.csv", index=False
    )

    result = kedro_run(project, f"input_dir={images}", f"model_uri={small_model_uri}")

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = pd.read_csv(output / "predictions.csv", keep_default_na=False)
    assert list(table.columns) == [
        "file",
        "predicted_class",
        *(f"probability_{name}" for name in CLASSES),
        "needs_review",
        "status",
        "reason",
    ]
    assert list(table["file"]) == [".DS_Store", "empty.jpg", "huge.png", "x.jpg"]
    assert set(table["status"]) == {"unreadable"}
    assert list(table["reason"].str.split(" ").str[:2]) == [
        ["not", "an"],
        ["empty", "file"],
        ["image", "is"],
        ["not", "an"],
    ]
    assert table["reason"][2] == (
        "image is 6000 x 5000 pixels, over the limit of 25000000"
    )
    assert (table["predicted_class"] == "").all()
    assert not (output / "gradcam").exists() or not any((output / "gradcam").rglob("*"))


def test_empty_folder_stops_at_once_with_one_line(tmp_path: Path):
    empty = tmp_path / "empty folder"
    (empty / "sub").mkdir(parents=True)
    project = copy_project(tmp_path / "project")

    bootstrap_project(project)
    with (
        KedroSession.create(
            project_path=project, runtime_params={"input_dir": str(empty)}
        ) as session,
        pytest.raises(ParameterError) as error,
    ):
        session.run(pipeline_names=["inference"])
    assert error.value.message.count("\n") == 0
    assert f"'{empty}' has no file" in error.value.message
    assert "--params input_dir=PATH" in error.value.message

    result = kedro_run(project, f"input_dir={empty}")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "No partitions found" not in output
    (line,) = [line for line in output.splitlines() if "has no file" in line]
    assert line.startswith("Error: The folder of images to predict")


def test_a_run_that_stops_at_once_leaves_no_output_of_an_earlier_run(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    output = project / OUTPUT
    (output / "gradcam").mkdir(parents=True)
    (output / "gradcam" / "old.jpg.png").write_bytes(b"old overlay")
    (output / "predictions.csv").write_text("file,status\nold.jpg,predicted\n")

    result = kedro_run(project, f"input_dir={tmp_path / 'no such folder'}")

    assert result.returncode != 0
    assert "No folder of images to predict at" in result.stdout + result.stderr
    assert not (output / "predictions.csv").exists()
    assert not (output / "gradcam").exists()
