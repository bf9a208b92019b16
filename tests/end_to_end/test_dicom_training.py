"""``kedro run --pipelines training`` on a raw folder where two classes are DICOMs.

The DICOMs are written from the data set's real JPEGs (tests/helpers/dicom_files.py), JPEG
Baseline and uncompressed, each with identifying tags; a DICOM report sits among
them. The run must train on them, skip the report with its reason, and leave no
identifying value in its log, its data folder, the MLflow store or the report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import copy_project
from tests.helpers import dicom_files
from tests.helpers.logging_config import write_plain_logging

PER_CLASS = 12
DICOM_CLASSES = ("glioma_tumor", "meningioma_tumor")
REPORT = "Training/glioma_tumor/report.dcm"


def _raw_folder(root: Path, shared: Path) -> Path:
    """The first ``PER_CLASS`` images of each split and class; those of
    ``DICOM_CLASSES`` as DICOMs, half JPEG-wrapped, half uncompressed RGB."""
    for split in ("Training", "Testing"):
        for folder in sorted((shared / split).iterdir()):
            target = root / split / folder.name
            target.mkdir(parents=True)
            for index, source in enumerate(sorted(folder.iterdir())[:PER_CLASS]):
                jpeg = source.read_bytes()
                if folder.name not in DICOM_CLASSES:
                    (target / source.name).write_bytes(jpeg)
                elif index % 2:
                    rgb = dicom_files.decoded(jpeg, "RGB")
                    data = dicom_files.uncompressed(rgb, "RGB")
                    (target / f"{source.stem}.dcm").write_bytes(data)
                else:
                    data = dicom_files.jpeg_wrapped(jpeg)
                    (target / f"{source.stem}.dcm").write_bytes(data)
    (root / REPORT).write_bytes(dicom_files.bundled("reportsi.dcm"))
    return root


@pytest.mark.slow
def test_training_on_dicoms_keeps_patient_data_out_of_every_output(
    tmp_path: Path, shared_data_dir: Path
):
    raw = _raw_folder(tmp_path / "raw", shared_data_dir)
    project = copy_project(tmp_path / "project")
    write_plain_logging(tmp_path / "logging.yml")
    # One more than PER_CLASS, so that the report (the last glioma file) is indexed.
    params = (
        f"raw_data_dir={raw},preprocessing.max_images_per_class={PER_CLASS + 1},"
        "model_training.epochs=1"
    )
    command = [sys.executable, "-m", "kedro", "run", "--pipelines", "training"]
    result = subprocess.run(
        [*command, "--env", "quick", "--params", params],
        cwd=project,
        env={
            **os.environ,
            "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
            "KEDRO_LOGGING_CONFIG": str(tmp_path / "logging.yml"),
        },
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]

    manifest = pd.read_parquet(project / "data/02_intermediate/image_manifest.parquet")
    dicoms = manifest[manifest["class_folder"].isin(DICOM_CLASSES)]
    dicoms = dicoms[dicoms["path"] != REPORT]
    assert len(dicoms) == 2 * len(DICOM_CLASSES) * PER_CLASS
    assert (dicoms["format"] == "DICOM").all() and (dicoms["status"] == "ok").all()
    report = manifest.set_index("path").loc[REPORT]
    assert report["status"] == "unreadable"
    assert "no pixel data (SOP class Basic Text SR Storage)" in report["reason"]
    assert f"Skipping '{REPORT}' (unreadable)" in log

    # Everything the run wrote: data/, the MLflow store and its artifacts, the logs.
    written = [
        path
        for path in project.rglob("*")
        if path.is_file() and path.relative_to(project).parts[0] not in ("src", "conf")
    ]
    names = {path.name for path in written}
    assert {"mlflow.db", "calibration.json", "report.html"} <= names
    assert any(path.relative_to(project).parts[0] == "mlruns" for path in written)
    written = b"".join(path.read_bytes() for path in written)
    for value in dicom_files.IDENTIFYING.values():
        assert value not in log, value
        assert value.encode() not in written, value
