"""The review page (``kedro review``) on the quick run's registered model, in headless
Chromium.

``kedro review`` serves the registered version on 127.0.0.1; the browser uploads a
real glioma slice, a DICOM written from another real slice, pydicom's MR slice and a
broken file, reads the class and review flag shown for each and checks them against
``mlflow models serve``'s answer for the same files. Saves
``docs/images/review_page.png`` for the README.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient
from playwright.sync_api import Page

from tests.conftest import QuickTrainingRun
from tests.end_to_end.browser.test_kedro_viz import _listening_addresses
from tests.helpers import dicom_files
from tests.helpers.browser import (
    HOST,
    chromium_page,
    free_port,
    local_get,
    offline_environment,
    save_screenshot,
    serve,
)
from tests.serving.test_image_classifier import (
    REGISTERED_NAME,
    post,
    serve_mlflow_model,
    split_payload,
)

SLICES = {
    "glioma.jpg": "Testing/glioma_tumor/image(1).jpg",
    "pituitary.dcm": "Testing/pituitary_tumor/image(10).jpg",
}


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory, shared_data_dir: Path) -> dict:
    """The files to upload: a real JPEG, a real slice as DICOM (with identifying
    tags), the MR slice that pydicom ships, and a broken file."""
    folder = tmp_path_factory.mktemp("uploads")
    files = {
        "glioma.jpg": (shared_data_dir / SLICES["glioma.jpg"]).read_bytes(),
        "pituitary.dcm": dicom_files.jpeg_wrapped(
            (shared_data_dir / SLICES["pituitary.dcm"]).read_bytes()
        ),
        "MR_small.dcm": dicom_files.bundled("MR_small.dcm"),
        "broken.dcm": dicom_files.bundled("MR_truncated.dcm"),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in files}


@pytest.fixture(scope="module")
def model_uri(quick_training_run: QuickTrainingRun) -> str:
    client = MlflowClient(quick_training_run.tracking_uri)
    (version,) = client.search_model_versions(
        f"name = '{REGISTERED_NAME}' and run_id = '{quick_training_run.run_id}'"
    )
    return f"models:/{REGISTERED_NAME}/{version.version}"


@pytest.fixture(scope="module")
def review_url(
    quick_training_run: QuickTrainingRun,
    model_uri: str,
    tmp_path_factory: pytest.TempPathFactory,
):
    """``kedro review`` in the quick run's project, on a free port of 127.0.0.1."""
    port = free_port()
    command = [sys.executable, "-m", "kedro", "review", "--model-uri", model_uri]
    with serve(
        [*command, "--port", str(port)],
        ready_url=f"http://{HOST}:{port}/api/model",
        cwd=quick_training_run.project_path,
        log=tmp_path_factory.mktemp("review") / "review.log",
        env=offline_environment(MLFLOW_TRACKING_URI=quick_training_run.tracking_uri),
        timeout_s=480,
    ):
        assert _listening_addresses(port) == {HOST}, "kedro review must bind 127.0.0.1"
        yield f"http://{HOST}:{port}"


@pytest.fixture(scope="module")
def served_answers(
    quick_training_run: QuickTrainingRun,
    model_uri: str,
    uploads: dict,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict:
    """``mlflow models serve``'s answer for each readable upload."""
    readable = [name for name in uploads if name != "broken.dcm"]
    values = [
        base64.b64encode(uploads[name].read_bytes()).decode() for name in readable
    ]
    with serve_mlflow_model(
        model_uri,
        log=tmp_path_factory.mktemp("serving") / "server.log",
        env={"MLFLOW_TRACKING_URI": quick_training_run.tracking_uri},
    ) as (_, url):
        response = post(url, split_payload(values))
    assert response.status_code == 200, response.text
    return dict(zip(readable, response.json()["predictions"], strict=True))


def upload(page: Page, url: str, paths: list[Path]) -> None:
    """Open the page, upload ``paths`` with the file input, wait for the results."""
    page.goto(url, wait_until="load")
    page.wait_for_function(
        "document.getElementById('model').textContent.includes('models:/')"
    )
    page.set_input_files("#files", [str(path) for path in paths])
    page.wait_for_selector("#status[data-done]", timeout=120_000)


def shown(page: Page, name: str) -> dict:
    """What the page shows for one file: class, flag, probabilities or reason."""
    card = page.locator(f'section.result[data-name="{name}"]')
    if "unreadable" in (card.get_attribute("class") or ""):
        return {"reason": card.locator(".reason").inner_text()}
    return {
        "class": card.locator(".class").get_attribute("data-class"),
        "needs_review": card.locator(".flag").get_attribute("data-needs-review"),
        "flag": card.locator(".flag").inner_text(),
        "threshold": card.locator(".threshold").inner_text(),
        "probabilities": {
            row.get_attribute("data-class"): row.locator(".probability").inner_text()
            for row in card.locator("tr").all()
        },
        "images": card.locator("img").evaluate_all(
            "images => images.map(i => i.complete && i.naturalWidth > 0)"
        ),
    }


@pytest.mark.usefixtures("chromium")
def test_review_page_shows_the_served_models_answers(
    review_url: str, uploads: dict, served_answers: dict
):
    with chromium_page(width=1400, height=1100) as page:
        upload(page, review_url, list(uploads.values()))
        for name, answer in served_answers.items():
            seen = shown(page, name)
            assert seen["class"] == answer["predicted_class"], name
            assert seen["needs_review"] == str(answer["needs_review"]).lower(), name
            assert seen["flag"] == (
                "Needs review" if answer["needs_review"] else "Confident"
            )
            for column, value in answer.items():
                if column.startswith("probability_"):
                    expected = f"{100 * value:.1f} %"
                    assert seen["probabilities"][column[12:]] == expected, name
            assert seen["images"] == [True, True], f"{name}: slice and Grad-CAM"
            assert "Needs review when the confidence is under" in seen["threshold"]
            assert "validation split" in seen["threshold"]
        broken = shown(page, "broken.dcm")["reason"]
        assert "Cannot read this file: corrupt or truncated DICOM pixel data" in broken
        page_text = page.locator("body").inner_text()
        for value in dicom_files.IDENTIFYING.values():
            assert value not in page_text
        save_screenshot(page, "review_page.png")


@pytest.mark.usefixtures("chromium")
def test_review_page_takes_dropped_files(review_url: str, uploads: dict):
    """A file dropped on the page (a DataTransfer drop event, as the browser sends)."""
    data = base64.b64encode(uploads["glioma.jpg"].read_bytes()).decode()
    with chromium_page() as page:
        page.goto(review_url, wait_until="load")
        page.evaluate(
            """data => {
                const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
                const transfer = new DataTransfer();
                transfer.items.add(new File([bytes], "dropped.jpg", {type: "image/jpeg"}));
                document.getElementById("drop").dispatchEvent(
                    new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
            }""",
            data,
        )
        page.wait_for_selector("#status[data-done]", timeout=120_000)
        assert shown(page, "dropped.jpg")["class"]


def test_review_api_applies_the_served_models_limits(review_url: str, uploads: dict):
    """More files than ``max_images_per_request`` (64): one clear 400, as serving."""
    model = json.loads(local_get(f"{review_url}/api/model"))
    limit = model["limits"]["max_images_per_request"]
    value = base64.b64encode(uploads["MR_small.dcm"].read_bytes()).decode()
    body = {"files": [{"name": f"{i}.dcm", "data": value} for i in range(limit + 1)]}
    response = post(f"{review_url}/api/review", body)
    assert response.status_code == 400
    assert f"over the limit of {limit} per request" in response.json()["detail"]
