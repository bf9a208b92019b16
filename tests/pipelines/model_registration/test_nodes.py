"""The node of the model registration pipeline: the servable model's parts."""

from __future__ import annotations

import io

import numpy as np
from kedro.config import OmegaConfigLoader
from PIL import Image

from brain_tumor_mri.pipelines.model_registration.nodes import package_servable_model
from brain_tumor_mri.pipelines.model_registration.params import ServingParams
from brain_tumor_mri.serving.request import RequestLimits
from brain_tumor_mri.settings import CONFIG_LOADER_ARGS
from tests.conftest import PROJECT_ROOT
from tests.helpers.training_projects import small_classifier

CALIBRATION = {"temperature": 1.5, "review_threshold": 0.6}


def shipped_parameters() -> dict:
    return OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"), **CONFIG_LOADER_ARGS
    )["parameters"]


def test_servable_model_carries_classes_example_calibration_and_limits():
    params = shipped_parameters()
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), np.uint8)
    model = small_classifier(32)
    servable = package_servable_model(
        model,
        {"images": images, "labels": np.array([0, 1])},
        params["classes"],
        CALIBRATION,
        params["serving"],
        {"max_image_pixels": 1000, "image_formats": ["png"]},
    )
    assert servable.model is model
    assert servable.classes == [entry["name"] for entry in params["classes"]]
    example = np.asarray(Image.open(io.BytesIO(servable.example_image)))
    np.testing.assert_array_equal(example, images[0])
    assert servable.calibration == CALIBRATION
    assert servable.limits == RequestLimits(
        max_images_per_request=params["serving"]["max_images_per_request"],
        max_request_pixels=params["serving"]["max_request_pixels"],
        max_image_pixels=1000,
        image_formats=("PNG",),
    )


def test_serving_limits_may_come_as_their_schema():
    serving = ServingParams(max_images_per_request=2, max_request_pixels=10)
    servable = package_servable_model(
        small_classifier(32),
        {"images": np.zeros((1, 32, 32, 3), np.uint8)},
        [{"name": "a"}, {"name": "b"}],
        CALIBRATION,
        serving,
        {"max_image_pixels": 5, "image_formats": ["png", "jpeg"]},
    )
    assert servable.limits[:2] == (2, 10)
