"""Nodes of the model registration pipeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from brain_tumor_mri.classes import class_names
from brain_tumor_mri.serving import ServableModel, png_bytes


def package_servable_model(
    trained_model: keras.Model,
    val_cache: Mapping[str, np.ndarray],
    classes: Sequence[Mapping[str, Any]],
    calibration: Mapping[str, Any],
) -> ServableModel:
    """The trained model, its class names, a validation image (PNG) as input example,
    and the temperature and review threshold fitted on validation."""
    return ServableModel(
        trained_model,
        class_names(classes),
        png_bytes(val_cache["images"][0]),
        dict(calibration),
    )
