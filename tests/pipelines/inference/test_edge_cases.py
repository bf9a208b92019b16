"""Batch inference on folders of files that are not all images, run in-process (a
SequentialRunner on the project catalog); whole runs, with the hooks that clear an
earlier run's results and refuse an empty folder, are in
tests/end_to_end/test_inference_run.py.

The model is a small real Keras model saved as an MLflow model folder
(the `small_model_uri` fixture), so that these tests need no training run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from brain_tumor_mri.pipelines.inference import create_pipeline
from tests.conftest import copy_project
from tests.helpers.pipeline_runs import run_in_process
from tests.helpers.raw_folders import HOSTILE_REASONS, hostile_formats

# Each test runs the inference pipeline in a project copy.
pytestmark = pytest.mark.slow

OUTPUT = Path("data/07_model_output/inference")


def test_other_formats_and_symlinks_get_one_line_reasons(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    small_model_uri: str,
    shared_data_dir: Path,
):
    """EPS, GIF, TIFF, WebP and animated PNG are refused with their format named;
    a symlinked folder is followed, a loop is one row, no reason names a dataset."""
    real = shared_data_dir / "Testing" / "glioma_tumor" / "image(1).jpg"
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    (images / "scan.jpg").write_bytes(real.read_bytes())
    for name, data in hostile_formats(Image.open(real)).items():
        (images / name).write_bytes(data)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "linked.jpg").write_bytes(real.read_bytes())
    (images / "linked folder").symlink_to(elsewhere)
    (images / "sub" / "up").symlink_to("..")
    (images / "self").symlink_to("self")
    project = copy_project(tmp_path / "project")
    monkeypatch.chdir(project)

    run_in_process(
        project,
        create_pipeline(),
        mlflow_run=False,
        input_dir=str(images),
        model_uri=small_model_uri,
    )

    table = pd.read_csv(project / OUTPUT / "predictions.csv", keep_default_na=False)
    reasons = dict(zip(table["file"], table["reason"], strict=True))
    predicted = set(table.loc[table["status"] == "predicted", "file"])
    assert predicted == {"scan.jpg", "linked folder/linked.jpg"}
    for name, reason in HOSTILE_REASONS.items():
        assert reasons[name].startswith(reason), reasons[name]
    assert reasons["sub/up"] == (
        "cannot read the file: symbolic link loop (a link to a folder that "
        "contains it), not followed"
    )
    assert reasons["self"] == "cannot read the file: Too many levels of symbolic links"
    assert len(table) == 2 + len(HOSTILE_REASONS) + 2
    assert not any("Dataset" in reason or "\n" in reason for reason in reasons.values())
