"""The review page's server: one offline HTML page and one JSON endpoint.

``GET /`` is ``page.html`` (its CSS and script inline, nothing fetched from elsewhere);
``POST /api/review`` takes ``{"files": [{"name", "data"}]}`` (base64 images or
DICOMs, as the served model takes them) and answers, per file, the served model's
answer (class, calibrated probabilities, ``needs_review``), the slice as the model saw
it after the crop and its Grad-CAM overlay, or the reason it cannot be read.
``GET /api/model`` describes the model and its review threshold.

Uploads are decoded in memory and never written to disk. ``RequestGuard``
(``guard.py``) refuses, before this code sees them, requests to another ``Host``,
``POST`` bodies that are not JSON and bodies over the limit.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Collection, Mapping, Sequence
from importlib.resources import files
from typing import Any

import mlflow
import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from mlflow.exceptions import MlflowException
from PIL import Image
from starlette.concurrency import run_in_threadpool

from brain_tumor_mri.config.shared import GradcamParams
from brain_tumor_mri.core.gradcam import make_gradcam_heatmaps, overlay_heatmap
from brain_tumor_mri.core.images.loading import load_rgb
from brain_tumor_mri.core.prediction import (
    REVIEW_COLUMN,
    model_input_size,
    probability_columns,
)
from brain_tumor_mri.model_store.model_uris import not_servable_message
from brain_tumor_mri.review.guard import MAX_REQUEST_BYTES, RequestGuard
from brain_tumor_mri.serving.image_classifier import ImageClassifier
from brain_tumor_mri.serving.request import decode_base64_image, read_request_images

# Longest side, in pixels, of the images the page shows.
SHOWN_SIZE = 384
# The calibration values that the page shows beside the review flag.
CALIBRATION_SHOWN = (
    "temperature",
    "confidence_threshold",
    "target_accuracy",
    "target_reached",
    "coverage_at_threshold",
    "accuracy_at_threshold",
    "fitted_on",
    "fitted_on_images",
    # A model adapted to a site (the site_adaptation pipeline): how, from which
    # version, and what it means for the review threshold.
    "adapted",
)


def load_classifier(model_uri: str) -> ImageClassifier:
    """The servable model at ``model_uri`` (an ``ImageClassifier`` pyfunc), loaded as
    ``mlflow models serve`` loads it: Keras' safe mode, its calibration and limits.
    (``kedro review`` checks the URI first: ``check_servable_model_uri``.)"""
    model = mlflow.pyfunc.load_model(model_uri)
    classifier = model.unwrap_python_model()
    if not isinstance(classifier, ImageClassifier):
        raise MlflowException.invalid_parameter_value(
            not_servable_message(model_uri, f"a {type(classifier).__name__}")
        )
    return classifier


def _png_data_url(image: np.ndarray) -> str:
    """A uint8 RGB image, shrunk to ``SHOWN_SIZE`` at most, as a PNG data URL."""
    shown = Image.fromarray(image)
    shown.thumbnail((SHOWN_SIZE, SHOWN_SIZE))
    buffer = io.BytesIO()
    shown.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class Reviewer:
    """Answers the page's requests with the served model's code and Grad-CAM."""

    def __init__(
        self,
        classifier: ImageClassifier,
        model_uri: str,
        gradcam: GradcamParams,
    ) -> None:
        self.classifier = classifier
        self.model_uri = model_uri
        self.gradcam = gradcam
        # One request at a time uses the model: Keras models are not thread-safe.
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        """The model, its classes, limits and the calibration behind ``needs_review``."""
        calibration = self.classifier.calibration or {}
        return {
            "model_uri": self.model_uri,
            "classes": self.classifier.classes,
            "limits": self.classifier.limits._asdict(),
            "calibration": {
                key: calibration[key] for key in CALIBRATION_SHOWN if key in calibration
            },
        }

    def review(self, names: Sequence[str], values: Sequence[Any]) -> list[dict]:
        """One result per file, in order: the answer and images, or the reason."""
        classifier = self.classifier
        size = model_input_size(classifier.model)
        with self._lock:
            decoded, problems = read_request_images(
                list(values), size, classifier.limits, classifier.preprocessing
            )
            rows: list[int] = list(decoded.keys)
            answers = classifier.predict_images(decoded.images)
            heatmaps = make_gradcam_heatmaps(
                classifier.model,
                decoded.images,
                np.asarray(
                    [classifier.classes.index(c) for c in answers["predicted_class"]]
                ),
                self.gradcam.layer,
                self.gradcam.batch_size,
            )
        results: list[dict] = [
            {"name": name, "status": "unreadable", "reason": problems.get(row, "")}
            for row, name in enumerate(names)
        ]
        columns = probability_columns(classifier.classes)
        for index, row in enumerate(rows):
            answer = answers.iloc[index]
            shown = load_rgb(
                decode_base64_image(values[row]),
                preprocessing=classifier.preprocessing,
                max_pixels=classifier.limits.max_image_pixels,
            )
            results[row].update(
                status="predicted",
                predicted_class=str(answer["predicted_class"]),
                probabilities={
                    name: float(answer[column])
                    for name, column in zip(classifier.classes, columns, strict=True)
                },
                needs_review=bool(answer[REVIEW_COLUMN]),
                slice=_png_data_url(shown),
                gradcam=_png_data_url(
                    overlay_heatmap(shown, heatmaps[index], self.gradcam.alpha)
                ),
            )
        return results


FILES_SHAPE = 'Expected {"files": [{"name": ..., "data": <base64>}, ...]}'


def _parse_json(body: bytes) -> Any:
    """The JSON value of a request body; HTTP 400 with one line if it is not JSON."""
    try:
        return json.loads(body)
    except RecursionError as error:
        raise HTTPException(
            400, "The request is not valid JSON: nested too deeply."
        ) from error
    except ValueError as error:
        reason = " ".join(str(error).split())
        raise HTTPException(400, f"The request is not valid JSON: {reason}") from error


def _files(body: Any) -> tuple[list[str], list[Any]]:
    """The names and base64 values of ``{"files": [{"name", "data"}, ...]}``; HTTP
    400 with one line for any other shape."""
    entries = body.get("files") if isinstance(body, Mapping) else None
    if not isinstance(entries, list) or not entries:
        raise HTTPException(400, f"{FILES_SHAPE}.")
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise HTTPException(
                400,
                f"File {index + 1} is a JSON {_json_type(entry)}, not an object. "
                f"{FILES_SHAPE}.",
            )
    names = [str(entry.get("name", f"file {i + 1}")) for i, entry in enumerate(entries)]
    return names, [entry.get("data") for entry in entries]


def _json_type(value: Any) -> str:
    """The JSON name of the type of a parsed value."""
    names = {str: "string", bool: "boolean", int: "number", float: "number"}
    names |= {list: "array", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def create_app(
    reviewer: Reviewer,
    hosts: Collection[str],
    max_request_bytes: int = MAX_REQUEST_BYTES,
) -> FastAPI:
    """The FastAPI application of the review page, answering only requests whose
    ``Host`` is one of ``hosts``, JSON ``POST`` bodies of ``max_request_bytes`` at
    most (``RequestGuard``)."""
    app = FastAPI(title="brain_tumor_mri review", docs_url=None, redoc_url=None)
    app.add_middleware(RequestGuard, hosts=hosts, max_bytes=max_request_bytes)
    page = files("brain_tumor_mri.review").joinpath("page.html").read_text("utf-8")

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/api/model")
    def model() -> dict[str, Any]:
        return reviewer.describe()

    @app.post("/api/review")
    async def review(request: Request) -> dict[str, Any]:
        names, values = _files(_parse_json(await request.body()))
        try:
            results = await run_in_threadpool(reviewer.review, names, values)
        except MlflowException as error:  # a limit of the whole request
            raise HTTPException(400, error.message) from error
        return {"files": results}

    return app
