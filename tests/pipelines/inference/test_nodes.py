"""The inference node functions on a few small images, without Kedro or MLflow, and
on real test images with the quick run's model (batch-norm adaptation)."""

from __future__ import annotations

import io

import keras
import numpy as np
import pydantic
import pytest
from PIL import Image

from brain_tumor_mri.core.adaptation import adapt_batch_norm
from brain_tumor_mri.core.calibration import apply_temperature
from brain_tumor_mri.core.images.limits import DEFAULT_FORMATS, DEFAULT_MAX_PIXELS
from brain_tumor_mri.core.model import build_classifier
from brain_tumor_mri.pipelines.inference.nodes import decode_images, predict_images
from tests.conftest import QuickTrainingRun
from tests.helpers.predictions import GRADCAM, SMALL_HEAD
from tests.helpers.quick_run import CLASS_NAMES, PROBABILITIES
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


def test_adaptation_predicts_with_the_model_adapted_to_the_folder(
    quick_training_run: QuickTrainingRun, trained_model, calibration, shared_data_dir
):
    paths = np.load(
        quick_training_run.project_path
        / "data/07_model_output/test_predictions/paths.npy"
    )
    files = sorted(str(p) for p in paths)[:24]
    loaders = {f: (shared_data_dir / f).read_bytes for f in files}
    image_input = {
        "max_image_pixels": DEFAULT_MAX_PIXELS,
        "image_formats": list(DEFAULT_FORMATS),
    }
    decoded = decode_images(loaders, trained_model, calibration, image_input)
    params = {"batch_size": 8, "adapt_batch_norm": False}
    gradcam = {"layer": "conv5_block3_out", "alpha": 0.4, "batch_size": 8}
    arguments = {
        "decoded_images": decoded,
        "inference_images": loaders,
        "inference_model": trained_model,
        "inference_calibration": calibration,
        "classes": [{"name": n} for n in CLASS_NAMES],
        "gradcam": gradcam,
        "image_input": image_input,
    }
    plain, _ = predict_images(**arguments, params=params)
    adapted, _ = predict_images(
        **arguments, params={**params, "adapt_batch_norm": True}
    )
    expected = adapt_batch_norm(trained_model, decoded["images"], 8).predict_on_batch(
        decoded["images"]
    )
    np.testing.assert_allclose(
        adapted[PROBABILITIES].to_numpy(),
        apply_temperature(expected, calibration["temperature"]),
        atol=1e-5,
    )
    assert not np.allclose(
        adapted[PROBABILITIES].to_numpy(), plain[PROBABILITIES].to_numpy()
    )
