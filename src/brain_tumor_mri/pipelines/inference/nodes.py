"""Nodes of the inference pipeline: class probabilities and Grad-CAM of new images."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import keras
import numpy as np
import pandas as pd
from PIL import Image

from brain_tumor_mri.config.base import typed_params
from brain_tumor_mri.config.shared import GradcamParams, ImageInputParams
from brain_tumor_mri.core.adaptation import adapt_batch_norm
from brain_tumor_mri.core.classes import class_names
from brain_tumor_mri.core.gradcam import make_gradcam_heatmaps, overlay_heatmap
from brain_tumor_mri.core.images.batches import load_images
from brain_tumor_mri.core.images.loading import load_rgb
from brain_tumor_mri.core.prediction import (
    REVIEW_COLUMN,
    model_image_preprocessing,
    model_input_size,
    predict_in_batches,
    prediction_frame,
    probability_columns,
)
from brain_tumor_mri.pipelines.inference.params import InferenceParams

logger = logging.getLogger(__name__)

Loader = Callable[[], bytes]
PREDICTED, UNREADABLE = "predicted", "unreadable"


@typed_params
def decode_images(
    inference_images: Mapping[str, Loader],
    inference_model: keras.Model,
    inference_calibration: Mapping[str, Any],
    image_input: ImageInputParams,
) -> dict[str, Any]:
    """Read every file and prepare it as the model's training run did (its
    ``image_preprocessing``, from ``calibration.json``), at the model's input size.

    A file of more than ``image_input.max_image_pixels`` pixels, or of a format not in
    ``image_input.image_formats``, is unreadable, refused from its header.

    Returns ``{"images": (n, h, w, 3) uint8, "files": [n readable files],
    "errors": {unreadable file: reason}}``, files in sorted order.
    """
    size = model_input_size(inference_model)
    preprocessing = model_image_preprocessing(inference_calibration)
    decoded = load_images(
        {file: inference_images[file] for file in sorted(inference_images)},
        size,
        preprocessing,
        image_input.max_image_pixels,
        image_input.image_formats,
    )
    for file, reason in decoded.errors.items():
        logger.warning("Cannot predict '%s': %s", file, reason)
    return {
        "images": decoded.images,
        "files": decoded.keys,
        "errors": decoded.errors,
    }


def _overlay(
    load: Loader,
    heatmap: np.ndarray,
    alpha: float,
    preprocessing: Mapping[str, Any] | None,
    formats: Sequence[str],
) -> Image.Image:
    """The heatmap over the image at full resolution, cropped as the model saw it.

    Only files that ``decode_images`` read, within its pixel limit, get an overlay.
    """
    image = load_rgb(
        load(), preprocessing=preprocessing, max_pixels=None, formats=formats
    )
    return Image.fromarray(overlay_heatmap(image, heatmap, alpha))


def prediction_table(
    files: Sequence[str],
    probabilities: np.ndarray,
    errors: Mapping[str, str],
    classes: Sequence[str],
    calibration: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """One row per file: predicted class, calibrated class probabilities,
    ``needs_review``, status and reason (see ``prediction_frame``)."""
    predicted = prediction_frame(probabilities, classes, calibration)
    predicted.insert(0, "file", list(files))
    predicted["status"], predicted["reason"] = PREDICTED, ""
    unreadable = pd.DataFrame(
        {"file": list(errors), "status": UNREADABLE, "reason": list(errors.values())}
    )
    columns = [
        "file",
        "predicted_class",
        *probability_columns(classes),
        REVIEW_COLUMN,
        "status",
        "reason",
    ]
    frames = [frame for frame in (predicted, unreadable) if len(frame)]
    if not frames:
        return pd.DataFrame(columns=columns)
    # reindex: a folder with no readable file has no predicted class or probabilities.
    table = pd.concat(frames, ignore_index=True).reindex(columns=columns)
    return table.sort_values("file", ignore_index=True)


@typed_params
def predict_images(
    *,
    decoded_images: Mapping[str, Any],
    inference_images: Mapping[str, Loader],
    inference_model: keras.Model,
    inference_calibration: Mapping[str, Any],
    classes: Sequence[Mapping[str, Any]],
    params: InferenceParams,
    gradcam: GradcamParams,
    image_input: ImageInputParams,
) -> tuple[pd.DataFrame, dict[str, Callable[[], Image.Image]]]:
    """The predictions table of every file, and a Grad-CAM overlay per readable image.

    With ``params.adapt_batch_norm`` the model is first adapted to the folder's
    own images (AdaBN: its BatchNormalization statistics re-estimated on them, no
    label used). The probabilities are calibrated with the temperature of the model's training run
    and each prediction flagged ``needs_review`` under its review threshold
    (``inference_calibration``); without one, they are the model's own and all flagged.

    Each overlay shows the evidence for the predicted class (``gradcam.layer``) on
    the image at its original resolution, cropped to the brain as the model saw it;
    overlays are drawn when saved, one at a time.
    """
    names = class_names(classes)
    images, files = decoded_images["images"], decoded_images["files"]
    if params.adapt_batch_norm and len(files):
        inference_model = adapt_batch_norm(inference_model, images, params.batch_size)
        logger.info(
            "BatchNorm statistics re-estimated on the %d images of this folder "
            "(inference.adapt_batch_norm; no label used).",
            len(files),
        )
    probabilities = predict_in_batches(inference_model, images, params.batch_size)
    table = prediction_table(
        files, probabilities, decoded_images["errors"], names, inference_calibration
    )
    overlays = _overlays(
        inference_model,
        decoded_images,
        probabilities.argmax(-1),
        inference_images,
        preprocessing=inference_calibration.get("image_preprocessing"),
        gradcam=gradcam,
        formats=image_input.image_formats,
    )
    _log_predictions(table, len(decoded_images["errors"]), names)
    return table, overlays


def _overlays(  # noqa: PLR0913 (the Grad-CAM settings and the image loader's)
    model: keras.Model,
    decoded_images: Mapping[str, Any],
    predicted: np.ndarray,
    inference_images: Mapping[str, Loader],
    *,
    preprocessing: Mapping[str, Any] | None,
    gradcam: GradcamParams,
    formats: Sequence[str],
) -> dict[str, Callable[[], Image.Image]]:
    """A Grad-CAM overlay of the predicted class per readable image, drawn when
    called."""
    heatmaps = make_gradcam_heatmaps(
        model,
        decoded_images["images"],
        predicted,
        gradcam.layer,
        gradcam.batch_size,
    )
    return {
        file: partial(
            _overlay,
            inference_images[file],
            heatmap,
            gradcam.alpha,
            preprocessing,
            formats,
        )
        for file, heatmap in zip(decoded_images["files"], heatmaps, strict=True)
    }


def _log_predictions(
    table: pd.DataFrame, unreadable: int, names: Sequence[str]
) -> None:
    predicted = table[table["status"] == PREDICTED]
    counts = predicted["predicted_class"].value_counts()
    logger.info(
        "Predicted %d of %d files, %d unreadable (status and reason in the table), "
        "%d need review. Predicted classes: %s.",
        len(predicted),
        len(table),
        unreadable,
        int(predicted[REVIEW_COLUMN].astype(bool).sum()),
        ", ".join(f"{name} {counts.get(name, 0)}" for name in names),
    )
