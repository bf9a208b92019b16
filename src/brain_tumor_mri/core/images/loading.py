"""The one image loader: decode, convert to 8-bit RGB, crop and normalise as
``image_preprocessing`` says, resize."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from brain_tumor_mri.core.images.colour import to_rgb8
from brain_tumor_mri.core.images.cropping import crop_to_brain
from brain_tumor_mri.core.images.decoding import decode_image
from brain_tumor_mri.core.images.intensity import normalise_intensity
from brain_tumor_mri.core.images.limits import DEFAULT_FORMATS, DEFAULT_MAX_PIXELS


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to ``size`` (height, width) with area averaging, the right filter to shrink."""
    if rgb.shape[:2] == tuple(size):
        return rgb
    return cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def preprocess_rgb(rgb: np.ndarray, params: Mapping[str, Any] | None) -> np.ndarray:
    """Crop to the brain and normalise intensities as ``image_preprocessing`` says."""
    params = params or {}
    crop = params.get("crop_to_brain") or {}
    if crop.get("enabled", False):
        rgb = crop_to_brain(rgb, crop["threshold"], crop["margin"])
    return normalise_intensity(rgb, params.get("intensity"))


def load_rgb(
    data: bytes,
    size: tuple[int, int] | None = None,
    preprocessing: Mapping[str, Any] | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    formats: Sequence[str] = DEFAULT_FORMATS,
) -> np.ndarray:
    """Decode bytes to 8-bit RGB, preprocess it and resize it to ``size`` (height, width).

    The one image loader of the project: caching, evaluation, batch inference and
    serving all call it, so that every image a model sees was prepared the same way.
    ``preprocessing`` is the ``image_preprocessing`` parameter group (crop to the
    brain, intensity normalisation); ``None`` leaves the image as decoded. Images of
    more than ``max_pixels``, or of a format not in ``formats``, raise
    ``ImageReadError`` before decoding.
    """
    # Decode at up to twice the final size, so that a crop keeps enough pixels.
    draft = None if size is None else (2 * size[1], 2 * size[0])
    decoded = decode_image(data, draft, max_pixels, formats)
    rgb = preprocess_rgb(to_rgb8(decoded), preprocessing)
    return rgb if size is None else resize_rgb(rgb, size)
