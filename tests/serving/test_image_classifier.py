"""The registered servable model, served for real by ``mlflow models serve``."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from kedro_datasets.tensorflow import TensorFlowModelDataset
from mlflow import MlflowClient
from PIL import Image

from brain_tumor_mri.core.calibration import apply_temperature, needs_review
from brain_tumor_mri.core.images.loading import load_rgb
from brain_tumor_mri.serving.request import decode_base64_image, images_from_request
from tests.conftest import QuickTrainingRun
from tests.helpers import dicom_files
from tests.helpers.browser import serve

CLASSES = ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor")
PROBABILITIES = [f"probability_{name}" for name in CLASSES]
REGISTERED_NAME = "brain_tumor_mri_classifier"
SERVER_START_TIMEOUT_S = 240


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def split_payload(values: list) -> dict:
    return {"dataframe_split": {"columns": ["image"], "data": [[v] for v in values]}}


@pytest.fixture(scope="module")
def registry(quick_training_run: QuickTrainingRun):
    """MLflow's tracking (and registry) URI set to the quick run's store for the module."""
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(quick_training_run.tracking_uri)
    yield MlflowClient(quick_training_run.tracking_uri)
    mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def registered_version(
    registry: MlflowClient, quick_training_run: QuickTrainingRun
) -> mlflow.entities.model_registry.ModelVersion:
    (version,) = registry.search_model_versions(
        f"name = '{REGISTERED_NAME}' and run_id = '{quick_training_run.run_id}'"
    )
    return version


@pytest.fixture(scope="module")
def images(quick_training_run: QuickTrainingRun, shared_data_dir: Path) -> dict:
    """Real test images the quick run evaluated (one per class), a PNG and a gray PNG."""
    folder = quick_training_run.project_path / "data/07_model_output/test_predictions"
    paths = np.load(folder / "paths.npy")
    files = {
        source: (shared_data_dir / source).read_bytes()
        for source in (next(p for p in paths if f"/{n}/" in p) for n in CLASSES)
    }
    first = Image.open(io.BytesIO(next(iter(files.values()))))
    for name, mode in (("rgba.png", "RGBA"), ("gray.png", "L")):
        buffer = io.BytesIO()
        first.convert(mode).save(buffer, format="PNG")
        files[name] = buffer.getvalue()
    return files


@pytest.fixture(scope="module")
def calibration(
    registry: MlflowClient,
    quick_training_run: QuickTrainingRun,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict:
    """The calibration.json that the training run logged."""
    path = registry.download_artifacts(
        quick_training_run.run_id,
        "calibration.json",
        str(tmp_path_factory.mktemp("calibration")),
    )
    return json.loads(Path(path).read_text())


@pytest.fixture(scope="module")
def expected(
    quick_training_run: QuickTrainingRun, images: dict, calibration: dict
) -> np.ndarray:
    """The probabilities of the trained Keras model, loaded directly, on ``images``,
    calibrated with the run's temperature."""
    path = quick_training_run.project_path / "data/06_models/trained_model.keras"
    model = TensorFlowModelDataset(filepath=str(path)).load()
    size = tuple(model.input_shape[1:3])
    # Prepared as the training run recorded (crop, intensity), as the server must.
    preprocessing = calibration["image_preprocessing"]
    batch = np.stack([load_rgb(data, size, preprocessing) for data in images.values()])
    return apply_temperature(model.predict_on_batch(batch), calibration["temperature"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(
    quick_training_run: QuickTrainingRun,
    registered_version,
    tmp_path_factory: pytest.TempPathFactory,
):
    """``mlflow models serve`` on the registered version; stopped (its group) at the end."""
    with serve_mlflow_model(
        f"models:/{REGISTERED_NAME}/{registered_version.version}",
        log=tmp_path_factory.mktemp("serving") / "server.log",
        env={"MLFLOW_TRACKING_URI": quick_training_run.tracking_uri},
    ) as served:
        yield served


@contextmanager
def serve_mlflow_model(
    model_uri: str, *, log: Path, env: dict[str, str], extra_args: Sequence[str] = ()
) -> Iterator[tuple[subprocess.Popen, str]]:
    """``mlflow models serve`` on 127.0.0.1 at a free port, with ``env`` added to the
    environment; yields the server's process and its invocations URL."""
    port = _free_port()
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri]
    command += ["--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1", *extra_args]
    url = f"http://127.0.0.1:{port}"
    with serve(
        command,
        ready_url=f"{url}/ping",
        cwd=log.parent,
        log=log,
        env={**os.environ, **env},
        timeout_s=SERVER_START_TIMEOUT_S,
    ) as process:
        yield process, f"{url}/invocations"


def post(url: str, payload) -> requests.Response:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return requests.post(
        url, data=data, headers={"Content-Type": "application/json"}, timeout=60
    )


def test_training_run_logged_and_registered_the_servable_model(
    registry: MlflowClient, quick_training_run: QuickTrainingRun, registered_version
):
    # Other tests may add training runs to the same store: pick this run's model.
    (logged,) = [
        model
        for model in registry.search_logged_models(
            [registry.get_run(quick_training_run.run_id).info.experiment_id],
            filter_string="name = 'servable_model'",
        )
        if model.source_run_id == quick_training_run.run_id
    ]
    assert registered_version.source == f"models:/{logged.model_id}"
    info = mlflow.models.get_model_info(
        f"models:/{REGISTERED_NAME}/{registered_version.version}"
    )
    assert set(info.flavors) == {"python_function"}
    assert info.signature.inputs.input_names() == ["image"]
    assert info.signature.inputs.input_types()[0].name == "string"
    assert info.signature.outputs.input_names() == [
        "predicted_class",
        *PROBABILITIES,
        "needs_review",
    ]
    assert info.signature.outputs.input_types()[-1].name == "boolean"
    assert info.saved_input_example_info["type"] == "dataframe"


def test_servable_model_carries_its_runs_calibration(
    registered_version, calibration: dict, tmp_path: Path
):
    folder = mlflow.artifacts.download_artifacts(
        f"models:/{REGISTERED_NAME}/{registered_version.version}", dst_path=tmp_path
    )
    artifacts = mlflow.models.Model.load(folder).flavors["python_function"]["artifacts"]
    carried = Path(folder, artifacts["calibration"]["path"])
    assert json.loads(carried.read_text()) == calibration
    assert calibration["fitted_on"] == "val"


def test_input_example_is_a_real_png(registered_version):
    model = mlflow.models.Model.load(
        f"models:/{REGISTERED_NAME}/{registered_version.version}"
    )
    example = model.load_input_example()
    (value,) = example["image"]
    with Image.open(io.BytesIO(base64.b64decode(value))) as image:
        assert image.format == "PNG"
        assert image.size == (64, 64)


def test_served_model_predicts_real_images(
    server, images: dict, expected, calibration: dict
):
    _, url = server
    response = post(url, split_payload([b64(data) for data in images.values()]))
    assert response.status_code == 200, response.text
    table = pd.DataFrame(response.json()["predictions"])
    assert list(table.columns) == ["predicted_class", *PROBABILITIES, "needs_review"]
    np.testing.assert_allclose(table[PROBABILITIES].to_numpy(), expected, atol=1e-5)
    assert list(table["predicted_class"]) == [CLASSES[i] for i in expected.argmax(1)]
    assert table["needs_review"].tolist() == list(needs_review(expected, calibration))


def test_served_model_takes_records_and_inputs_payloads(server, images: dict, expected):
    _, url = server
    value = b64(next(iter(images.values())))
    for payload in (
        {"dataframe_records": [{"image": value}]},
        {"inputs": {"image": [value]}},
    ):
        response = post(url, payload)
        assert response.status_code == 200, response.text
        (row,) = response.json()["predictions"]
        np.testing.assert_allclose(
            [row[column] for column in PROBABILITIES], expected[0], atol=1e-5
        )


def test_served_model_predicts_base64_dicoms_as_the_images_they_hold(
    server, images: dict, expected
):
    """The first JPEG wrapped as DICOM, and the grey PNG's pixels as the middle frame
    of a multi-frame DICOM, get those images' answers; pydicom's MR slice, one."""
    _, url = server
    jpeg = next(iter(images.values()))
    gray = dicom_files.decoded(jpeg, "L")
    dicoms = [
        dicom_files.jpeg_wrapped(jpeg),
        dicom_files.multiframe(gray),
        dicom_files.bundled("MR_small.dcm"),
    ]
    response = post(url, split_payload([b64(data) for data in dicoms]))
    assert response.status_code == 200, response.text
    table = pd.DataFrame(response.json()["predictions"])
    gray_row = list(images).index("gray.png")
    np.testing.assert_allclose(
        table[PROBABILITIES].to_numpy()[:2], expected[[0, gray_row]], atol=1e-5
    )
    assert table.loc[0, "predicted_class"] == CLASSES[expected[0].argmax()]
    assert table.loc[2, "predicted_class"] in CLASSES


BAD_PAYLOADS = {
    "not base64": (split_payload(["this is not base64!"]), "row 0: not valid base64"),
    "not an image": (
        split_payload([b64(b"plain text, not an image")]),
        "row 0: not an image file",
    ),
    "empty list": (split_payload([]), "No images in the request"),
    "empty inputs": ({"inputs": []}, "No images in the request"),
    "wrong column": (
        {"dataframe_split": {"columns": ["picture"], "data": [["abc"]]}},
        "Model is missing inputs ['image']",
    ),
    "missing value": (split_payload([None]), "row 0: no image (missing value)"),
    "not json": ('{"dataframe_split": ', "valid JSON"),
    "a DICOM report": (
        split_payload([b64(dicom_files.bundled("reportsi.dcm"))]),
        "row 0: not an image: the DICOM has no pixel data (SOP class Basic Text SR",
    ),
    "a truncated DICOM": (
        split_payload([b64(dicom_files.bundled("MR_truncated.dcm"))]),
        "row 0: corrupt or truncated DICOM pixel data",
    ),
    "a DICOM video": (
        split_payload(
            [b64(dicom_files.unsupported_syntax(np.zeros((8, 8), np.uint8)))]
        ),
        "row 0: unsupported DICOM transfer syntax 'MPEG2 Main Profile / Main Level'",
    ),
}


@pytest.mark.parametrize("case", BAD_PAYLOADS)
def test_bad_payload_gets_400_with_a_message_and_the_server_keeps_serving(
    case: str, server, images: dict
):
    process, url = server
    payload, message = BAD_PAYLOADS[case]
    response = post(url, payload)
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert process.poll() is None
    good = post(url, split_payload([b64(images["gray.png"])]))
    assert good.status_code == 200, good.text


def test_one_bad_row_among_good_ones_is_named(server, images: dict):
    _, url = server
    truncated = next(iter(images.values()))[:3000]
    response = post(url, split_payload([b64(images["gray.png"]), b64(truncated)]))
    assert response.status_code == 400
    message = response.json()["message"]
    assert "1 of 2 values" in message
    assert "row 1: corrupt or truncated image" in message


def test_request_decoding_accepts_data_urls_and_wrapped_base64():
    data = b"\x89PNG\r\n\x1a\n" + bytes(200)
    wrapped = "\n".join(b64(data)[i : i + 76] for i in range(0, len(b64(data)), 76))
    assert decode_base64_image(wrapped) == data
    assert decode_base64_image(f"data:image/png;base64,{b64(data)}") == data
    buffer = io.BytesIO()
    Image.new("RGB", (10, 20), (200, 30, 40)).save(buffer, format="PNG")
    frame = pd.DataFrame({"image": [b64(buffer.getvalue())]})
    batch = images_from_request(frame, (8, 4))
    assert (batch.shape, batch.dtype) == ((1, 8, 4, 3), np.uint8)
