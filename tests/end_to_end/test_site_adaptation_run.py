"""The site adaptation pipeline run as a user runs it (`kedro run` in a subprocess), on
real images and bad files, adapting the quick training run's registered model in a copy
of its MLflow store: the registered version, the run's tags, metrics and artifacts,
the privacy of the site's names, serving."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import keras
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from brain_tumor_mri.config.shared import GradcamParams
from brain_tumor_mri.core.adaptation import batch_norm_statistics
from brain_tumor_mri.core.calibration import apply_temperature, needs_review
from brain_tumor_mri.core.images.loading import load_rgb
from brain_tumor_mri.datasets import MlflowModelCalibrationDataset
from brain_tumor_mri.datasets.logged_models import load_keras_model
from brain_tumor_mri.pipelines.site_adaptation.nodes import content_fingerprint
from brain_tumor_mri.review.app import Reviewer, load_classifier
from tests.conftest import QuickTrainingRun, copy_project
from tests.helpers import dicom_files
from tests.helpers.logging_config import write_plain_logging
from tests.helpers.predictions import GRADCAM
from tests.serving.test_image_classifier import (
    PROBABILITIES,
    b64,
    post,
    serve_mlflow_model,
    split_payload,
)

NAME = "brain_tumor_mri_classifier"
# Words of the site's folder and file names that must reach no output.
SITE_FOLDER = "St_Elsewhere_Radiology"
SECRET_WORDS = (SITE_FOLDER, "MCKENZIE", "scan_of", "notes_about")
BAD_FILES = {
    "MCKENZIE_empty.jpg": b"",
    "notes_about_MCKENZIE.txt": b"not an image\n",
}
TENT = ("site_adaptation.method=tent", "site_adaptation.tent.steps=2")


@dataclass(frozen=True)
class SiteRun:
    """A finished site adaptation run and what it left."""

    site_dir: Path
    images: dict[str, bytes]
    project: Path
    tracking_uri: str
    run_id: str
    version: str
    source_version: str
    result: subprocess.CompletedProcess


def kedro_run(
    project: Path, tracking_uri: str, *params: str
) -> subprocess.CompletedProcess:
    write_plain_logging(project / "logging.yml", root_level="INFO")
    return subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipelines", "site_adaptation"]
        + (["--params", ",".join(params)] if params else []),
        cwd=project,
        env={
            **os.environ,
            "MLFLOW_TRACKING_URI": tracking_uri,
            "KEDRO_LOGGING_CONFIG": str(project / "logging.yml"),
        },
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def make_site_folder(folder: Path, shared: Path) -> dict[str, bytes]:
    """Real test slices of every class (one as DICOM, with identifying tags) under
    names that a site might use, and two bad files; returns the readable files."""
    sources = [
        path
        for name in ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor")
        for path in sorted((shared / "Testing" / name).glob("*.jpg"))[:6]
    ]
    images = {
        f"MCKENZIE/scan_of_MCKENZIE_{i:02d}.jpg": path.read_bytes()
        for i, path in enumerate(sources)
    }
    images["MCKENZIE/scan_of_MCKENZIE.dcm"] = dicom_files.jpeg_wrapped(
        sources[0].read_bytes()
    )
    for name, data in {**images, **BAD_FILES}.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return images


def copy_store(quick: QuickTrainingRun, folder: Path) -> str:
    """A copy of the quick run's MLflow store (its registry with it), so that the
    versions added here reach no other test."""
    source = Path(quick.tracking_uri.removeprefix("sqlite:///"))
    shutil.copy2(source, folder / "mlflow.db")
    return f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture(scope="module")
def site_run(
    quick_training_run: QuickTrainingRun,
    shared_data_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> SiteRun:
    root = tmp_path_factory.mktemp("site")
    site_dir = root / SITE_FOLDER
    images = make_site_folder(site_dir, shared_data_dir)
    tracking_uri = copy_store(quick_training_run, root)
    project = copy_project(root / "project")
    client = MlflowClient(tracking_uri)
    (source,) = client.search_model_versions(f"name = '{NAME}'")
    result = kedro_run(project, tracking_uri, f"site_dir={site_dir}", *TENT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    versions = client.search_model_versions(f"name = '{NAME}'")
    (adapted,) = [v for v in versions if str(v.version) != str(source.version)]
    return SiteRun(
        site_dir,
        images,
        project,
        tracking_uri,
        adapted.run_id,
        str(adapted.version),
        str(source.version),
        result,
    )


def test_registers_a_new_version_tagged_with_the_site_and_the_method(
    site_run: SiteRun,
):
    client = MlflowClient(site_run.tracking_uri)
    tags = client.get_model_version(NAME, site_run.version).tags
    hashes = [hashlib.sha256(data).hexdigest() for data in site_run.images.values()]
    assert tags["site_adaptation.fingerprint"] == content_fingerprint(hashes)
    assert tags["site_adaptation.images"] == str(len(site_run.images))
    assert tags["site_adaptation.method"] == "tent"
    settings = json.loads(tags["site_adaptation.settings"])
    assert settings["steps"] == 2
    assert set(settings) == {
        "batch_size",
        "steps",
        "learning_rate",
        "diversity_weight",
        "seed",
    }
    assert tags["site_adaptation.from_version"] == site_run.source_version
    assert tags["site_adaptation.from_model_uri"] == (
        f"models:/{NAME}/{site_run.source_version}"
    )
    run = client.get_run(site_run.run_id)
    assert {k: v for k, v in run.data.tags.items() if k in tags} == tags
    assert run.data.params["site_adaptation.method"] == "tent"
    source_tags = client.get_model_version(NAME, site_run.source_version).tags
    assert not any(key.startswith("site_adaptation.") for key in source_tags)


def test_run_logs_the_batch_norm_shift_and_the_class_mix(site_run: SiteRun):
    client = MlflowClient(site_run.tracking_uri)
    metrics = client.get_run(site_run.run_id).data.metrics
    assert metrics["site_images"] == len(site_run.images)
    assert metrics["site_unreadable_files"] == len(BAD_FILES)
    assert metrics["bn_shift_moving_mean_max"] > 0
    assert metrics["bn_shift_gamma_max"] > 0
    for when in ("before", "after"):
        shares = [v for k, v in metrics.items() if k.startswith(f"class_share_{when}_")]
        assert len(shares) == 4
        assert sum(shares) == pytest.approx(1.0)
        assert 0 <= metrics[f"needs_review_share_{when}"] <= 1
    assert len(client.get_metric_history(site_run.run_id, "tent_loss")) == 2
    folder = client.download_artifacts(site_run.run_id, "site_adaptation")
    report = json.loads(Path(folder, "site_adaptation.json").read_text())
    reasons = report["unreadable_files_by_reason"]
    assert reasons["empty file (0 bytes)"] == 1
    assert sum(reasons.values()) == len(BAD_FILES)
    layers = report["batch_norm_shift"]["layers"]
    assert len(layers) > 50
    assert set(next(iter(layers.values()))) == {
        "moving_mean",
        "moving_variance",
        "gamma",
        "beta",
    }


def test_bad_files_are_reported_by_reason_and_the_rest_adapted(site_run: SiteRun):
    log = site_run.result.stdout + site_run.result.stderr
    assert "Skipped 1 file(s) of the site folder: empty file" in log
    assert f"Read {len(site_run.images)} images of the" in log


def test_the_adapted_version_serves_like_any_other(site_run: SiteRun):
    """The same pyfunc with the adapted Keras model inside, its calibration marked
    ``adapted``, found by batch inference and shown by the review page."""
    mlflow.set_tracking_uri(site_run.tracking_uri)
    uri = f"models:/{NAME}/{site_run.version}"
    classifier = load_classifier(uri)
    adapted = load_keras_model(uri)
    source = load_keras_model(f"models:/{NAME}/{site_run.source_version}")
    assert batch_norm_statistics(adapted).keys() == batch_norm_statistics(source).keys()
    calibration = classifier.calibration
    assert calibration["adapted"]["method"] == "tent"
    assert calibration["adapted"]["from_version"] == site_run.source_version
    assert "not refitted" in calibration["adapted"]["review_threshold_note"]
    image = load_rgb(
        next(iter(site_run.images.values())),
        keras_size(adapted),
        calibration["image_preprocessing"],
    )[None]
    answer = classifier.predict_images(image)
    expected = apply_temperature(
        adapted.predict_on_batch(image), calibration["temperature"]
    )
    np.testing.assert_allclose(
        answer.filter(like="probability_").to_numpy(), expected, atol=1e-5
    )
    assert not np.allclose(
        adapted.predict_on_batch(image), source.predict_on_batch(image), atol=1e-6
    )
    assert MlflowModelCalibrationDataset(model_uri=uri).load() == calibration
    shown = Reviewer(classifier, uri, GradcamParams(**GRADCAM)).describe()[
        "calibration"
    ]
    assert shown["adapted"]["site_images"] == len(site_run.images)


def test_the_adapted_version_answers_under_mlflow_models_serve(
    site_run: SiteRun, tmp_path: Path
):
    """``mlflow models serve`` on the adapted version, as a site deploys it: its
    answers are the adapted model's, with the source's temperature and threshold."""
    uri = f"models:/{NAME}/{site_run.version}"
    mlflow.set_tracking_uri(site_run.tracking_uri)
    classifier = load_classifier(uri)
    adapted = load_keras_model(uri)
    calibration = classifier.calibration
    jpegs = [data for name, data in site_run.images.items() if name.endswith(".jpg")]
    expected = apply_temperature(
        adapted.predict_on_batch(
            np.stack(
                [
                    load_rgb(
                        data, keras_size(adapted), calibration["image_preprocessing"]
                    )
                    for data in jpegs
                ]
            )
        ),
        calibration["temperature"],
    )
    with serve_mlflow_model(
        uri,
        log=tmp_path / "server.log",
        env={"MLFLOW_TRACKING_URI": site_run.tracking_uri},
    ) as (_, url):
        response = post(url, split_payload([b64(data) for data in jpegs]))
    assert response.status_code == 200, response.text
    table = pd.DataFrame(response.json()["predictions"])
    np.testing.assert_allclose(table[PROBABILITIES].to_numpy(), expected, atol=1e-5)
    assert table["needs_review"].tolist() == list(needs_review(expected, calibration))


def keras_size(model: keras.Model) -> tuple[int, int]:
    return tuple(int(side) for side in model.input_shape[1:3])


def test_no_name_of_the_site_reaches_a_tag_a_parameter_a_log_or_an_artifact(
    site_run: SiteRun, tmp_path: Path
):
    client = MlflowClient(site_run.tracking_uri)
    run = client.get_run(site_run.run_id)
    version = client.get_model_version(NAME, site_run.version)
    mlflow.set_tracking_uri(site_run.tracking_uri)
    artifacts = mlflow.artifacts.download_artifacts(
        run_id=site_run.run_id, dst_path=str(tmp_path / "run")
    )
    model = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{NAME}/{site_run.version}",
        dst_path=str(tmp_path / "model"),
    )
    written = [
        path
        for folder in (Path(artifacts), Path(model), site_run.project / "data")
        for path in folder.rglob("*")
        if path.is_file()
    ]
    texts = {
        "tags": json.dumps(run.data.tags),
        "parameters": json.dumps(run.data.params),
        "metrics": json.dumps(run.data.metrics),
        "version tags": json.dumps(version.tags) + (version.description or ""),
        "log": site_run.result.stdout + site_run.result.stderr,
        "file names": "\n".join(path.as_posix() for path in written),
    }
    contents = b"".join(path.read_bytes() for path in written)
    assert "calibration.json" in texts["file names"]
    assert "<not logged>" in run.data.tags["runtime_params"]
    for word in (*SECRET_WORDS, *dicom_files.IDENTIFYING.values()):
        for where, text in texts.items():
            assert word not in text, f"{word} in the {where}"
        assert word.encode() not in contents, word
    for data in site_run.images.values():
        assert data[1000:1064] not in contents


def test_an_empty_site_folder_stops_with_one_line_and_no_run(
    quick_training_run: QuickTrainingRun, tmp_path: Path
):
    site_dir = tmp_path / "empty site"
    (site_dir / "sub").mkdir(parents=True)
    tracking_uri = copy_store(quick_training_run, tmp_path)
    client = MlflowClient(tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = len(client.search_runs(experiments))
    result = kedro_run(
        copy_project(tmp_path / "project"), tracking_uri, f"site_dir={site_dir}"
    )
    assert result.returncode != 0
    (line,) = [
        line for line in result.stderr.splitlines() if "site folder of images" in line
    ]
    assert "has no file" in line and "site_dir=PATH" in line
    assert "Traceback" not in result.stderr
    assert len(client.search_runs(experiments)) == runs
