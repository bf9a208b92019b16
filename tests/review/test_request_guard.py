"""What the review page's server refuses, over real HTTP to a real server on 127.0.0.1:
requests to another ``Host`` (DNS rebinding), ``POST`` bodies that are not JSON (the
"simple" requests another web page can send without a CORS preflight), bodies over
the limit, and malformed JSON, each with one line and no traceback in the log."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import keras
import pytest
import uvicorn

from brain_tumor_mri.config.shared import GradcamParams
from brain_tumor_mri.review.app import Reviewer, create_app
from brain_tumor_mri.review.guard import allowed_hosts
from brain_tumor_mri.serving.image_classifier import ImageClassifier
from tests.helpers.browser import HOST, free_port
from tests.helpers.predictions import GRADCAM

CLASSES = ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor")
# A small limit, so that the test sends a body over it quickly.
MAX_BYTES = 256 * 1024


def small_classifier() -> ImageClassifier:
    """This project's servable model around a small Keras model: 32x32 RGB in, four
    class probabilities out, its last convolution named as Grad-CAM expects."""
    inputs = keras.Input((32, 32, 3), name="image")
    features = keras.layers.Conv2D(4, 3, name="conv5_block3_out")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(pooled)
    return ImageClassifier(keras.Model(inputs, outputs), CLASSES)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    """The review page's app, served by uvicorn on 127.0.0.1 at a free port, with the
    hosts that ``kedro review`` allows by default."""
    port = free_port()
    reviewer = Reviewer(small_classifier(), "small-model", GradcamParams(**GRADCAM))
    app = create_app(reviewer, allowed_hosts(HOST, port), max_request_bytes=MAX_BYTES)
    server = uvicorn.Server(
        uvicorn.Config(app, host=HOST, port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "the review server did not start"
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=30)


def request(  # noqa: PLR0913 (the parts of an HTTP request)
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    host: str | None = None,
) -> tuple[int, dict]:
    """Send one HTTP request, exactly as given (``host``: the Host header); the
    status and JSON answer."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        connection.putrequest(method, path, skip_host=True)
        connection.putheader("Host", f"{HOST}:{port}" if host is None else host)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body is not None and "Transfer-Encoding" not in (headers or {}):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def post_json(port: int, body: bytes) -> tuple[int, dict]:
    return request(
        port, "POST", "/api/review", body, {"Content-Type": "application/json"}
    )


@pytest.fixture(scope="module")
def slice_body(shared_data_dir: Path) -> bytes:
    data = (shared_data_dir / "Testing/glioma_tumor/image(1).jpg").read_bytes()
    files = [{"name": "glioma.jpg", "data": base64.b64encode(data).decode()}]
    return json.dumps({"files": files}).encode()


def test_a_json_request_to_the_servers_own_names_is_answered(
    port: int, slice_body: bytes
):
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
        status, answer = request(port, "GET", "/api/model", host=host)
        assert status == 200, (host, answer)
    status, answer = post_json(port, slice_body)
    assert status == 200, answer
    (result,) = answer["files"]
    assert result["status"] == "predicted"
    assert result["predicted_class"] in CLASSES


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:{port}", "127.0.0.1:1", "127.0.0.1", ""],
)
def test_another_host_is_refused(port: int, slice_body: bytes, host: str):
    """DNS rebinding: a page of evil.example, its name rebound to 127.0.0.1."""
    host = host.format(port=port)
    headers = {"Content-Type": "application/json"}
    for method, path, body in (
        ("GET", "/api/model", None),
        ("GET", "/", None),
        ("POST", "/api/review", slice_body),
    ):
        status, answer = request(port, method, path, body, headers, host=host)
        assert status == 400, (method, path, host)
        assert "is not a name of this server" in answer["detail"]


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        None,
    ],
)
def test_a_body_that_is_not_json_is_refused(
    port: int, slice_body: bytes, content_type: str | None
):
    """The "simple" requests that another page can send without a CORS preflight."""
    headers = {"Content-Type": content_type} if content_type else {}
    status, answer = request(port, "POST", "/api/review", slice_body, headers)
    assert status == 415
    assert answer["detail"] == "The request must be application/json."


def test_a_json_type_with_its_charset_is_taken(port: int, slice_body: bytes):
    headers = {"Content-Type": "application/json; charset=utf-8"}
    status, _ = request(port, "POST", "/api/review", slice_body, headers)
    assert status == 200


def test_a_body_over_the_limit_is_refused(port: int):
    body = json.dumps({"files": [{"name": "big", "data": "A" * MAX_BYTES}]}).encode()
    status, answer = post_json(port, body)
    assert status == 413
    assert f"over the limit of {MAX_BYTES} bytes" in answer["detail"]


def test_a_chunked_body_over_the_limit_is_refused(port: int):
    """No Content-Length: the server counts the bytes as they come."""
    data = b"A" * (MAX_BYTES + 1)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    status, answer = request(port, "POST", "/api/review", chunked, headers)
    assert status == 413
    assert "over the limit" in answer["detail"]


@pytest.mark.parametrize(
    "body, reason",
    [
        (b'{"files": ["abc"]}', "File 1 is a JSON string, not an object."),
        (b'{"files": [null]}', "File 1 is a JSON null, not an object."),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON: nested too deeply"),
        (b'{"files": [', "The request is not valid JSON: Expecting value"),
        (b'{"files": []}', 'Expected {"files": [{"name": ..., "data": <base64>}'),
    ],
)
def test_malformed_requests_get_one_line_and_no_traceback(
    port: int, body: bytes, reason: str, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.WARNING):
        status, answer = post_json(port, body)
    assert status == 400, answer
    assert reason in answer["detail"]
    assert "\n" not in answer["detail"]
    assert not [record for record in caplog.records if record.exc_info], caplog.text
    assert "Traceback" not in caplog.text


def test_the_default_hosts_are_the_loopback_names_with_the_port():
    assert allowed_hosts("127.0.0.1", 8765) == {
        "127.0.0.1:8765",
        "localhost:8765",
        "[::1]:8765",
    }
    assert allowed_hosts("10.0.0.5", 8800, ["review.hospital.org"]) == {
        "10.0.0.5:8800",
        "review.hospital.org:8800",
    }
