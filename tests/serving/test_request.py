"""Bounded requests to the served model: too many images or pixels get HTTP 400.

The server is the real ``mlflow models serve`` on 127.0.0.1, serving a servable model
logged and registered by the project's own dataset around a small real Keras model,
so that these tests need no training run.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import time
from pathlib import Path

import keras
import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from kedro.config import OmegaConfigLoader
from mlflow.exceptions import MlflowException
from PIL import Image

from brain_tumor_mri.core.images.encoding import png_bytes
from brain_tumor_mri.datasets import MlflowServableModelDataset
from brain_tumor_mri.serving.image_classifier import ServableModel
from brain_tumor_mri.serving.request import RequestLimits, images_from_request
from brain_tumor_mri.settings import CONFIG_LOADER_ARGS
from tests.conftest import PROJECT_ROOT
from tests.helpers import dicom_files
from tests.helpers.raw_folders import HOSTILE_REASONS, hostile_formats
from tests.serving.test_image_classifier import (
    b64,
    post,
    serve_mlflow_model,
    split_payload,
)

CLASSES = ["glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor"]
LIMITS = RequestLimits(
    max_images_per_request=3, max_request_pixels=3 * 100 * 100, max_image_pixels=20_000
)


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 90, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


def frame(*images: bytes) -> pd.DataFrame:
    return pd.DataFrame({"image": [b64(data) for data in images]})


def test_too_many_images_are_refused_before_decoding():
    with pytest.raises(MlflowException) as error:
        images_from_request(frame(*[b"not even an image"] * 4), (32, 32), LIMITS)
    assert error.value.get_http_status_code() == 400
    assert "The request has 4 images, over the limit of 3 per request" in str(
        error.value
    )
    assert images_from_request(frame(*[png(50, 40)] * 3), (32, 32), LIMITS).shape == (
        3,
        32,
        32,
        3,
    )


def test_too_many_pixels_in_all_are_refused_before_decoding():
    with pytest.raises(MlflowException) as error:
        images_from_request(
            frame(png(100, 100), png(100, 100), png(100, 101)), (32, 32), LIMITS
        )
    message = str(error.value)
    assert "30100 pixels in all (width x height), over the limit of 30000" in message
    assert "(max_request_pixels)" in message


def test_each_image_has_its_own_limit():
    with pytest.raises(MlflowException) as error:
        images_from_request(frame(png(50, 50), png(200, 101)), (32, 32), LIMITS)
    assert "1 of 2 values" in str(error.value)
    assert "row 1: image is 200 x 101 pixels, over the limit of 20000" in str(
        error.value
    )


def test_a_corrupt_dicom_row_gets_one_line_without_patient_data():
    """A DICOM whose first group length is cut (0xFF), beside a good PNG: a 400 that
    names the row on one line, with no stack trace and no patient data."""
    bad = bytearray(dicom_files.uncompressed(np.zeros((8, 8), np.uint8)))
    bad[132 + 6] = 0xFF
    with pytest.raises(MlflowException) as error:
        images_from_request(frame(png(10, 10), bytes(bad)), (32, 32), LIMITS)
    body = json.loads(error.value.serialize_as_json())
    assert error.value.get_http_status_code() == 400 and "stack_trace" not in body
    message = body["message"]
    assert "row 1: corrupt or truncated DICOM header" in message
    assert "\n" not in message and "row 0" not in message
    assert not [v for v in dicom_files.IDENTIFYING.values() if v in message]


def test_default_limits_are_the_shipped_parameters():
    params = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"), **CONFIG_LOADER_ARGS
    )["parameters"]
    assert RequestLimits() == RequestLimits(
        **params["serving"],
        max_image_pixels=params["image_input"]["max_image_pixels"],
        image_formats=tuple(params["image_input"]["image_formats"]),
    )


def register_small_model(tracking_uri: str) -> None:
    """Log and register a small servable model with LIMITS as ``small_classifier``."""
    inputs = keras.Input((32, 32, 3), name="image")
    features = keras.layers.Conv2D(4, 3, name="conv5_block3_out")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(pooled)
    model = keras.Model(inputs, outputs)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri)
    try:
        mlflow.set_experiment("serving_limits")
        dataset = MlflowServableModelDataset(registered_model_name="small_classifier")
        with mlflow.start_run():
            dataset.save(
                ServableModel(
                    model,
                    CLASSES,
                    png_bytes(np.zeros((32, 32, 3), np.uint8)),
                    limits=LIMITS,
                )
            )
        config = mlflow.models.Model.load("models:/small_classifier/1").flavors[
            "python_function"
        ]["config"]
    finally:
        mlflow.set_tracking_uri(previous)
    assert RequestLimits.from_config(config) == LIMITS


@pytest.fixture(scope="module")
def served_small_model(tmp_path_factory: pytest.TempPathFactory):
    """The small model served, its request limit lowered with MLflow's
    MLFLOW_PYFUNC_INFERENCE_CONFIG; yields the server's process and its URL."""
    root = tmp_path_factory.mktemp("serving_limits")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    register_small_model(tracking_uri)
    env = {
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_PYFUNC_INFERENCE_CONFIG": json.dumps({"max_images_per_request": 2}),
        "UVICORN_LIMIT_CONCURRENCY": "8",  # as docs/serving.md's serve command
    }
    with serve_mlflow_model(
        "models:/small_classifier/1",
        log=root / "server.log",
        env=env,
        extra_args=["--timeout", "30"],
    ) as served:
        yield served


def test_served_model_answers_400_past_each_limit_and_keeps_serving(
    served_small_model,
):
    process, url = served_small_model
    small = b64(png(40, 30))
    cases = {
        # the logged limit of 3, lowered to 2 when serving
        "The request has 3 images, over the limit of 2 per request": [small] * 3,
        "31500 pixels in all (width x height), over the limit of 30000": [
            b64(png(150, 100)),
            b64(png(150, 110)),
        ],
        "row 0: image is 150 x 150 pixels, over the limit of 20000": [
            b64(png(150, 150))
        ],
    }
    for message, values in cases.items():
        response = post(url, split_payload(values))
        assert response.status_code == 400, response.text
        assert message in response.json()["message"]
        assert process.poll() is None
    response = post(url, split_payload([small, small]))
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 2


def test_mlflow_http_layer_does_what_the_readme_says(served_small_model):
    """MLflow's own behaviours that docs/serving.md warns about; if one of these
    fails, MLflow changed and docs/serving.md must say so."""
    _, url = served_small_model
    response = requests.post(url, data='{"inputs": {"image": []}}', timeout=60)
    assert response.status_code == 500  # no Content-Type
    body = '{"dataframe_split": ' + "x" * 100_000
    response = requests.post(
        url, data=body, headers={"Content-Type": "application/json"}, timeout=60
    )
    assert response.status_code == 400
    assert "x" * 100_000 in response.text  # the whole body, echoed


def test_served_model_refuses_other_formats_by_name(
    served_small_model, shared_data_dir: Path
):
    """EPS (never to reach Ghostscript), GIF, TIFF, WebP and animated PNG get a 400
    that names their format; a PNG in the same request is fine. Made from a slice
    of the data set, within the small model's 20000-pixel limit."""
    _, url = served_small_model
    real = shared_data_dir / "Testing" / "glioma_tumor" / "image(1).jpg"
    small = Image.open(real).resize((100, 100))
    for name, data in hostile_formats(small).items():
        response = post(url, split_payload([b64(png(40, 30)), b64(data)]))
        assert response.status_code == 400, response.text
        message = response.json()["message"]
        assert (
            "1 of 2 values in column 'image' are not base64-encoded JPEG, PNG or DICOM"
            in (message)
        )
        assert f"row 1: {HOSTILE_REASONS[name]}" in message, message


def _ping_status(connection: socket.socket) -> int:
    """The HTTP status of ``GET /ping`` sent on an open connection."""
    connection.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    connection.settimeout(30)
    head = b""
    while b"\r\n" not in head:
        chunk = connection.recv(1024)
        assert chunk, "the server closed the connection"
        head += chunk
    return int(head.split(b" ")[1])


def _seventh_and_eighth(address: tuple[str, str]) -> tuple[int, int] | None:
    """The status of a request on a seventh open connection and, if it is 200, on an
    eighth; None when the seventh got 503 because the server still counted a
    connection that a client had closed (the count, of 7 open ones, was then 8)."""
    with contextlib.ExitStack() as stack:
        connections = [
            stack.enter_context(socket.create_connection(address)) for _ in range(7)
        ]
        seventh = _ping_status(connections[-1])
        if seventh != 200:  # noqa: PLR2004
            return None
        return seventh, _ping_status(
            stack.enter_context(socket.create_connection(address))
        )


def test_concurrency_limit_is_what_the_serving_manual_says(served_small_model):
    """With UVICORN_LIMIT_CONCURRENCY=8 (docs/serving.md's serve command), 7
    connections are served and the eighth gets 503: uvicorn counts the new connection
    itself. docs/serving.md states the measured figure. A 200 on the seventh connection proves that
    the server counts no other, so the eighth's answer is exact."""
    _, url = served_small_model
    address = tuple(url.split("/")[2].split(":"))
    manual = " ".join((PROJECT_ROOT / "docs" / "serving.md").read_text().split())
    assert "UVICORN_LIMIT_CONCURRENCY=8 mlflow models serve" in manual
    assert (
        "`UVICORN_LIMIT_CONCURRENCY=8`: at most 7 connections at once, open or busy; "
        "the eighth gets HTTP 503" in manual
    )
    deadline = time.monotonic() + 10  # for the server to see closed connections go
    while (statuses := _seventh_and_eighth(address)) is None:
        assert time.monotonic() < deadline, "the seventh connection got 503"
        time.sleep(0.2)
    assert statuses == (200, 503)
    ping = url.replace("/invocations", "/ping")
    while (status := requests.get(ping, timeout=30).status_code) != 200:
        assert time.monotonic() < deadline + 10, status
        time.sleep(0.2)
