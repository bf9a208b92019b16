"""Decoding a request to the served model: base64 images, checked against the limits
of one request before any pixel is decoded; a bad request is answered with HTTP 400."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from brain_tumor_mri.core.images.batches import (
    DecodedImages,
    load_images,
    one_line_reason,
)
from brain_tumor_mri.core.images.decoding import ImageHeader, read_header
from brain_tumor_mri.core.images.limits import (
    DEFAULT_FORMATS,
    DEFAULT_MAX_PIXELS,
    ImageReadError,
    check_formats,
)

INPUT_COLUMN = "image"
MAX_REPORTED_ROWS = 10


class RequestLimits(NamedTuple):
    """What one request may ask of the served model; more is answered with HTTP 400.

    The values are logged with the model (its ``model_config``, from the parameters
    ``serving``, ``image_input.max_image_pixels`` and ``image_input.image_formats``);
    MLflow's environment variable ``MLFLOW_PYFUNC_INFERENCE_CONFIG`` overrides them
    when the model is served.
    """

    max_images_per_request: int = 64
    max_request_pixels: int = 100_000_000
    max_image_pixels: int = DEFAULT_MAX_PIXELS
    image_formats: tuple[str, ...] = DEFAULT_FORMATS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RequestLimits:
        """The limits found in a model config; the defaults for those it lacks."""
        found = {key: config[key] for key in cls._fields if key in config}
        return cls(
            **{
                key: check_formats(value) if key == "image_formats" else int(value)
                for key, value in found.items()
            }
        )


def decode_base64_image(value: Any) -> bytes:
    """The bytes of a base64 string (whitespace and a ``data:`` URL prefix allowed)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        raise ValueError("no image (missing value)")
    if not isinstance(value, str):
        raise ValueError(f"expected a base64 string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError("no image (empty string)")
    text = "".join(value.split())
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError(f"not valid base64 ({error})") from error


def bad_request(message: str) -> MlflowException:
    """The exception that MLflow's scoring server answers with HTTP 400 and ``message``."""
    return MlflowException.invalid_parameter_value(message)


def _check_image_count(count: int, limits: RequestLimits) -> None:
    if count > limits.max_images_per_request:
        raise bad_request(
            f"The request has {count} images, over the limit of "
            f"{limits.max_images_per_request} per request (max_images_per_request): "
            "send them in several requests."
        )


def _check_request_pixels(
    headers: Iterable[ImageHeader], limits: RequestLimits
) -> None:
    pixels = sum(header.width * header.height for header in headers)
    if pixels > limits.max_request_pixels:
        raise bad_request(
            f"The images of the request have {pixels} pixels in all (width x height), "
            f"over the limit of {limits.max_request_pixels} per request "
            "(max_request_pixels): send fewer or smaller images per request."
        )


def _formats(limits: RequestLimits) -> str:
    """``JPEG, PNG or DICOM``: the accepted formats, for messages."""
    *others, last = limits.image_formats
    return f"{', '.join(others)} or {last}" if others else last


def read_request_images(
    values: list[Any],
    size: tuple[int, int],
    limits: RequestLimits,
    preprocessing: Mapping[str, Any] | None = None,
) -> tuple[DecodedImages, dict[int, str]]:
    """Decode base64 images to a uint8 batch keyed by row, with the reason of each row
    that cannot be used.

    The request's size is checked from the image headers before any pixel is
    decoded: the number of images, their pixels in all (a 400 for the whole
    request) and each image's pixels (a reason for its row).
    """
    _check_image_count(len(values), limits)
    files: dict[int, bytes] = {}
    headers: dict[int, ImageHeader] = {}
    problems: dict[int, str] = {}
    for row, value in enumerate(values):
        try:
            files[row] = decode_base64_image(value)
            headers[row] = read_header(
                files[row], limits.max_image_pixels, limits.image_formats
            )
        except (ImageReadError, ValueError) as error:
            problems[row] = " ".join(str(error).split())
        except Exception as error:  # noqa: BLE001 (a bad row is its reason, not a 500)
            problems[row] = one_line_reason(error)
    _check_request_pixels(headers.values(), limits)
    decoded = load_images(
        {row: files[row] for row in headers},
        size,
        preprocessing,
        limits.max_image_pixels,
        limits.image_formats,
    )
    problems.update(decoded.errors)
    return decoded, problems


def images_from_request(
    model_input: Any,
    size: tuple[int, int],
    limits: RequestLimits | None = None,
    preprocessing: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Decode the ``image`` column to a uint8 batch, prepared as ``preprocessing``
    says; raise a 400 naming each bad row (see ``read_request_images``)."""
    limits = limits or RequestLimits()
    if not isinstance(model_input, pd.DataFrame) or INPUT_COLUMN not in model_input:
        raise bad_request(
            f"Expected a table with a column '{INPUT_COLUMN}' of base64-encoded "
            f"{_formats(limits)} images, got {type(model_input).__name__}."
        )
    values = model_input[INPUT_COLUMN].tolist()
    if not values:
        raise bad_request(
            f"No images in the request: send at least one row in column '{INPUT_COLUMN}'."
        )
    decoded, problems = read_request_images(values, size, limits, preprocessing)
    if problems:
        shown = "; ".join(
            f"row {row}: {problems[row]}"
            for row in sorted(problems)[:MAX_REPORTED_ROWS]
        )
        more = len(problems) - MAX_REPORTED_ROWS
        raise bad_request(
            f"{len(problems)} of {len(values)} values in column '{INPUT_COLUMN}' are not "
            f"base64-encoded {_formats(limits)} images: {shown}"
            + (f"; and {more} more" if more > 0 else "")
        )
    return decoded.images
