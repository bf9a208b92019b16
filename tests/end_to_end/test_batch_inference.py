"""Batch inference as a user runs it (`kedro run --pipelines inference` in a
subprocess) on a folder of real images, DICOMs and bad files, with the quick training
run's model: the table, the overlays, the log, and no MLflow run."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from PIL import Image

from brain_tumor_mri.core.calibration import apply_temperature, needs_review
from brain_tumor_mri.core.images.loading import load_rgb
from tests.conftest import QuickTrainingRun, copy_project
from tests.helpers import dicom_files
from tests.helpers.logging_config import write_plain_logging
from tests.helpers.quick_run import CLASS_NAMES as CLASSES
from tests.helpers.quick_run import PROBABILITIES

# Unreadable files and a word that their reason must contain.
BAD_FILES = {
    "empty.jpg": "empty file",
    "notes.txt": "not an image",
    "scans/truncated.jpg": "truncated",
    "scans/.DS_Store": "not an image",
    "dicom/report.dcm": "no pixel data (SOP class Basic Text SR Storage)",
    "dicom/truncated.dcm": "truncated DICOM pixel data",
    "dicom/video.dcm": "unsupported DICOM transfer syntax",
    "dicom/not_dicom.dcm": "not an image",
}


# DICOMs of the first test image and the file whose pixels each holds: the JPEG itself
# (a.jpg), its RGB pixels (as rgba.png's) and its grey version (gray.png); and an MR
# slice that pydicom ships. Each written one carries identifying tags
# (tests/helpers/dicom_files.py).
DICOM_FILES = {
    "dicom/a_jpeg.dcm": "a.jpg",
    "dicom/a_rgb": "scans/rgba.png",
    "dicom/gray_monochrome1.dcm": "gray.png",
    "dicom/gray_signed16.dcm": "gray.png",
    "dicom/gray_multiframe.dcm": "gray.png",
    "dicom/MR_small.dcm": None,
}


@dataclass(frozen=True)
class InferenceRun:
    """The input folder, the quick run's real test images in it, and the run's outputs."""

    input_dir: Path
    test_images: dict[str, str]
    table: pd.DataFrame
    output_dir: Path
    messages: list[str]
    log: str
    runs_before: int
    runs_after: int


def _test_split_images(quick: QuickTrainingRun) -> list[str]:
    """The first test image of each class that the quick run evaluated."""
    paths = np.load(
        quick.project_path / "data/07_model_output/test_predictions/paths.npy"
    )
    return [next(p for p in paths if f"/{name}/" in p) for name in CLASSES]


def _make_input_folder(
    folder: Path, shared: Path, sources: list[str]
) -> dict[str, str]:
    """Real JPEGs (nested too), PNG variants of them, and bad files; returns the JPEGs."""
    targets = ["a.jpg", "scans/b.jpg", "scans/deep/c.jpg", "scans/deep/d e (1).jpg"]
    for target, source in zip(targets, sources, strict=True):
        (folder / target).parent.mkdir(parents=True, exist_ok=True)
        (folder / target).write_bytes((shared / source).read_bytes())
    image = Image.open(shared / sources[0])
    image.convert("L").save(folder / "gray.png")
    image.convert("RGBA").save(folder / "scans/rgba.png")
    gray16 = np.asarray(image.convert("L"), dtype=np.uint16) * 200
    Image.fromarray(gray16).save(folder / "scans/deep/gray16.png")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("not an image\n")
    (folder / "scans/truncated.jpg").write_bytes(
        (shared / sources[1]).read_bytes()[:3000]
    )
    (folder / "scans/.DS_Store").write_bytes(bytes(range(256)) * 4)
    _add_dicom_files(folder / "dicom", (shared / sources[0]).read_bytes())
    return dict(zip(targets, sources, strict=True))


def _add_dicom_files(folder: Path, jpeg: bytes) -> None:
    """``DICOM_FILES`` and the bad DICOMs of ``BAD_FILES``."""
    folder.mkdir()
    gray = dicom_files.decoded(jpeg, "L")
    written = {
        "a_jpeg.dcm": dicom_files.jpeg_wrapped(jpeg),
        "a_rgb": dicom_files.uncompressed(dicom_files.decoded(jpeg, "RGB"), "RGB"),
        "gray_monochrome1.dcm": dicom_files.monochrome1(gray),
        "gray_signed16.dcm": dicom_files.signed16_windowed(gray),
        "gray_multiframe.dcm": dicom_files.multiframe(gray),
        "MR_small.dcm": dicom_files.bundled("MR_small.dcm"),
        "report.dcm": dicom_files.bundled("reportsi.dcm"),
        "truncated.dcm": dicom_files.jpeg_wrapped(jpeg)[:5000],
        "video.dcm": dicom_files.unsupported_syntax(gray),
        "not_dicom.dcm": b"not a DICOM file\n" * 20,
    }
    for name, data in written.items():
        (folder / name).write_bytes(data)


def _read_table(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path)
    text = ["file", "predicted_class", "status", "reason"]
    table[text] = table[text].fillna("")
    return table


@pytest.fixture(scope="module")
def inference_run(
    quick_training_run: QuickTrainingRun,
    shared_data_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> InferenceRun:
    """``kedro run --pipelines inference --params input_dir=PATH``, as a user runs it."""
    root = tmp_path_factory.mktemp("inference")
    input_dir = root / "new images"
    input_dir.mkdir()
    test_images = _make_input_folder(
        input_dir, shared_data_dir, _test_split_images(quick_training_run)
    )
    project = copy_project(root / "project")
    write_plain_logging(root / "logging.yml")
    client = MlflowClient(quick_training_run.tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs_before = len(client.search_runs(experiments))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kedro",
            "run",
            "--pipelines",
            "inference",
            "--params",
            f"input_dir={input_dir}",
        ],
        cwd=project,
        env={
            **os.environ,
            "MLFLOW_TRACKING_URI": quick_training_run.tracking_uri,
            "KEDRO_LOGGING_CONFIG": str(root / "logging.yml"),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    messages = [
        line.split("|", 2)[2]
        for line in result.stdout.splitlines()
        if line.count("|") >= 2 and line.split("|")[1].startswith("brain_tumor_mri")
    ]
    output_dir = project / "data/07_model_output/inference"
    return InferenceRun(
        input_dir=input_dir,
        test_images=test_images,
        table=_read_table(output_dir / "predictions.csv"),
        output_dir=output_dir,
        messages=messages,
        log=result.stdout + result.stderr,
        runs_before=runs_before,
        runs_after=len(client.search_runs(experiments)),
    )


def _good(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["status"] == "predicted"].set_index("file")


def test_every_file_has_one_row(inference_run: InferenceRun):
    files = {
        path.relative_to(inference_run.input_dir).as_posix()
        for path in inference_run.input_dir.rglob("*")
        if path.is_file()
    }
    table = inference_run.table
    assert sorted(table["file"]) == sorted(files)
    assert list(table.columns) == [
        "file",
        "predicted_class",
        *PROBABILITIES,
        "needs_review",
        "status",
        "reason",
    ]


def test_unreadable_files_have_a_status_and_a_reason(inference_run: InferenceRun):
    table = inference_run.table.set_index("file")
    for file, word in BAD_FILES.items():
        assert table.loc[file, "status"] == "unreadable"
        assert word in table.loc[file, "reason"], table.loc[file, "reason"]
        assert table.loc[file, "predicted_class"] == ""
    good = _good(inference_run.table)
    assert len(good) == len(inference_run.table) - len(BAD_FILES) == 13
    assert (good["reason"] == "").all()


def test_predictions_match_the_trained_model_loaded_directly(
    inference_run: InferenceRun, trained_model, calibration: dict
):
    """Calibrated with the temperature of the model's run, flagged under its threshold."""
    good = _good(inference_run.table)
    size = tuple(trained_model.input_shape[1:3])
    images = np.stack(
        [
            load_rgb(
                (inference_run.input_dir / file).read_bytes(),
                size,
                calibration["image_preprocessing"],
            )
            for file in good.index
        ]
    )
    assert calibration["image_preprocessing"]["crop_to_brain"]["enabled"]
    raw = trained_model.predict_on_batch(images)
    expected = apply_temperature(raw, calibration["temperature"])
    np.testing.assert_allclose(good[PROBABILITIES].to_numpy(), expected, atol=1e-5)
    assert list(good["predicted_class"]) == [CLASSES[i] for i in raw.argmax(1)]
    np.testing.assert_allclose(good[PROBABILITIES].sum(axis=1), 1.0, atol=1e-4)
    assert good["needs_review"].astype(bool).tolist() == list(
        needs_review(expected, calibration)
    )
    assert (
        inference_run.table.loc[
            inference_run.table["status"] == "unreadable", "needs_review"
        ]
        .isna()
        .all()
    )


def test_dicoms_get_the_predictions_of_the_images_they_hold(
    inference_run: InferenceRun,
):
    """A JPEG wrapped as DICOM, its pixels as uncompressed RGB, and its grey version
    as MONOCHROME1, as signed 16-bit with a window and as a multi-frame's middle frame
    get the prediction of the JPEG, PNG or grey PNG they hold."""
    good = _good(inference_run.table)
    for dicom, image in DICOM_FILES.items():
        assert good.loc[dicom, "predicted_class"] in CLASSES
        if image is None:
            continue
        assert good.loc[dicom, "predicted_class"] == good.loc[image, "predicted_class"]
        np.testing.assert_allclose(
            good.loc[dicom, PROBABILITIES].to_numpy(dtype=float),
            good.loc[image, PROBABILITIES].to_numpy(dtype=float),
            atol=1e-5,
            err_msg=dicom,
        )


def test_no_identifying_dicom_tag_reaches_an_output(inference_run: InferenceRun):
    """Not the predictions, the overlays, the log, nor the reasons of bad DICOMs."""
    outputs = [
        path.read_bytes()
        for path in inference_run.output_dir.rglob("*")
        if path.is_file()
    ]
    assert len(outputs) == 1 + 13
    table = inference_run.table.to_csv()
    for value in dicom_files.IDENTIFYING.values():
        assert value not in inference_run.log
        assert value not in table
        assert value.encode() not in b"".join(outputs)


def test_preprocessing_is_the_training_runs(
    inference_run: InferenceRun, quick_training_run: QuickTrainingRun
):
    """Real test images get the calibrated probabilities that the training run's
    evaluation gave them."""
    folder = (
        quick_training_run.project_path
        / "data/07_model_output/test_calibrated_predictions"
    )
    evaluated = dict(
        zip(
            np.load(folder / "paths.npy"),
            np.load(folder / "probabilities.npy"),
            strict=True,
        )
    )
    good = _good(inference_run.table)
    for file, source in inference_run.test_images.items():
        np.testing.assert_allclose(
            good.loc[file, PROBABILITIES].to_numpy(dtype=float),
            evaluated[source],
            atol=1e-5,
            err_msg=file,
        )


def test_one_gradcam_overlay_per_predicted_image_at_its_size(
    inference_run: InferenceRun, calibration: dict
):
    """At the image's own resolution, cropped to the brain as the model saw it."""
    overlays = {
        path.relative_to(inference_run.output_dir / "gradcam").as_posix()
        for path in (inference_run.output_dir / "gradcam").rglob("*.png")
    }
    good = _good(inference_run.table)
    assert overlays == {f"{file}.png" for file in good.index}
    for file in good.index:
        original = load_rgb(
            (inference_run.input_dir / file).read_bytes(),
            preprocessing=calibration["image_preprocessing"],
        )
        size = (original.shape[1], original.shape[0])
        data = (inference_run.output_dir / "gradcam" / f"{file}.png").read_bytes()
        with Image.open(io.BytesIO(data)) as overlay:
            assert (overlay.format, overlay.mode, overlay.size) == ("PNG", "RGB", size)


def test_log_names_bad_files_and_ends_with_the_counts(inference_run: InferenceRun):
    messages = inference_run.messages
    for file in BAD_FILES:
        assert any(f"Cannot predict '{file}'" in message for message in messages)
    assert messages[-1].startswith("Predicted 13 of 21 files, 8 unreadable")
    counts = _good(inference_run.table)["predicted_class"].value_counts()
    for name in CLASSES:
        assert f"{name} {counts.get(name, 0)}" in messages[-1]


def test_batch_prediction_starts_no_mlflow_run(inference_run: InferenceRun):
    assert inference_run.runs_after == inference_run.runs_before


def test_log_says_which_calibration_was_used(
    inference_run: InferenceRun, quick_training_run: QuickTrainingRun
):
    (message,) = [m for m in inference_run.messages if m.startswith("Calibration of")]
    assert f"(run {quick_training_run.run_id})" in message
    assert "temperature" in message and "review threshold" in message
