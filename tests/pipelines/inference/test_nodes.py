"""The inference node functions on a few small images, without Kedro or MLflow."""

from __future__ import annotations

import io

import keras
import numpy as np
import pydantic
import pytest
from PIL import Image

from brain_tumor_mri.core.model import build_classifier
from brain_tumor_mri.pipelines.inference.nodes import decode_images, predict_images
from tests.helpers.predictions import GRADCAM, SMALL_HEAD
from tests.helpers.raw_folders import CLASSES, IMAGE_INPUT, IMAGE_PREPROCESSING

# The inference group of conf/base/parameters_inference.yml, and the shared gradcam.
INFERENCE = {"batch_size": 32, "adapt_batch_norm": False}
CALIBRATION = {
    "temperature": 1.5,
    "confidence_threshold": 0.3,
    "image_preprocessing": IMAGE_PREPROCESSING,
}


def png(size: tuple[int, int], value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(
        buffer, format="PNG"
    )
    return buffer.getvalue()


@pytest.fixture(scope="module")
def model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_classifier((32, 32), 4, SMALL_HEAD)


@pytest.fixture(scope="module")
def images() -> dict:
    files = {"b.png": png((40, 30), 90), "a.png": png((20, 20), 200)}
    loaders = {name: (lambda data=data: data) for name, data in files.items()}
    loaders["notes.txt"] = lambda: b"not an image"
    return loaders


def test_decode_then_predict_gives_a_table_and_an_overlay_per_image(
    model, images
) -> None:
    decoded = decode_images(images, model, CALIBRATION, IMAGE_INPUT)
    table, overlays = predict_images(
        decoded_images=decoded,
        inference_images=images,
        inference_model=model,
        inference_calibration=CALIBRATION,
        classes=CLASSES,
        params=INFERENCE,
        gradcam=GRADCAM,
        image_input=IMAGE_INPUT,
    )

    assert decoded["images"].shape == (2, 32, 32, 3)
    assert decoded["files"] == ["a.png", "b.png"]
    assert list(table["file"]) == ["a.png", "b.png", "notes.txt"]
    assert list(table["status"]) == ["predicted", "predicted", "unreadable"]
    assert set(overlays) == {"a.png", "b.png"}
    overlay = overlays["b.png"]()
    assert isinstance(overlay, Image.Image)
    assert overlay.mode == "RGB"


def test_parameters_are_validated_before_predicting(model, images) -> None:
    decoded = decode_images(images, model, CALIBRATION, IMAGE_INPUT)
    with pytest.raises(pydantic.ValidationError, match="batch_size"):
        predict_images(
            decoded_images=decoded,
            inference_images=images,
            inference_model=model,
            inference_calibration=CALIBRATION,
            classes=CLASSES,
            params={"adapt_batch_norm": False},
            gradcam=GRADCAM,
            image_input=IMAGE_INPUT,
        )
