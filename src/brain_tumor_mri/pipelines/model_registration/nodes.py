"""Nodes of the model registration pipeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from brain_tumor_mri.config.base import typed_params
from brain_tumor_mri.config.shared import ImageInputParams
from brain_tumor_mri.core.classes import class_names
from brain_tumor_mri.core.images.encoding import png_bytes
from brain_tumor_mri.pipelines.model_registration.params import ServingParams
from brain_tumor_mri.serving.image_classifier import ServableModel
from brain_tumor_mri.serving.request import RequestLimits


@typed_params
def package_servable_model(  # noqa: PLR0917 (Kedro passes node inputs positionally)
    trained_model: keras.Model,
    val_cache: Mapping[str, np.ndarray],
    classes: Sequence[Mapping[str, Any]],
    calibration: Mapping[str, Any],
    serving: ServingParams,
    image_input: ImageInputParams,
) -> ServableModel:
    """The trained model, its class names, an input example, its calibration and the
    request limits.

    The example is a validation image (PNG); the calibration is the temperature, review
    threshold and image preprocessing of the training run; the limits are ``serving``
    and ``image_input``: the limit of each image, and the accepted formats.
    """
    return ServableModel(
        trained_model,
        class_names(classes),
        png_bytes(val_cache["images"][0]),
        dict(calibration),
        RequestLimits(
            **serving.model_dump(),
            max_image_pixels=image_input.max_image_pixels,
            image_formats=tuple(image_input.image_formats),
        ),
    )
