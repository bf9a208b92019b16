"""Loading many image files at once, a bad file's reason kept instead of stopping the others."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from brain_tumor_mri.core.images.limits import (
    DEFAULT_FORMATS,
    DEFAULT_MAX_PIXELS,
    ImageReadError,
)
from brain_tumor_mri.core.images.loading import load_rgb


class DecodedImages(NamedTuple):
    """Images decoded from many files: the batch, whose files they are, and why the
    others could not be decoded."""

    images: np.ndarray
    keys: list[Hashable]
    errors: dict[Hashable, str]


def one_line_reason(error: BaseException) -> str:
    """Why a file failed, on one line and in terms of the file: the reason of the
    error that a dataset wrapped (its ``__cause__``), without the dataset's class path,
    and an ``OSError``'s reason without the absolute path."""
    while error.__cause__ is not None and not isinstance(error, ImageReadError):
        error = error.__cause__
    if isinstance(error, OSError) and error.strerror:
        text = f"cannot read the file: {error.strerror}"
    elif isinstance(error, ImageReadError):
        text = str(error)
    else:
        text = f"cannot read or decode the file: {error}"
    return " ".join(text.split())


def _load_or_reason(
    source: bytes | Callable[[], bytes],
    size: tuple[int, int],
    preprocessing: Mapping[str, Any] | None,
    max_pixels: int | None,
    formats: Sequence[str],
) -> np.ndarray | str:
    try:
        data = source() if callable(source) else source
        return load_rgb(data, size, preprocessing, max_pixels, formats)
    except Exception as error:  # noqa: BLE001 (one bad file must not stop the others)
        return one_line_reason(error)


def load_images(
    sources: Mapping[Hashable, bytes | Callable[[], bytes]],
    size: tuple[int, int],
    preprocessing: Mapping[str, Any] | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    formats: Sequence[str] = DEFAULT_FORMATS,
) -> DecodedImages:
    """Every image of ``sources`` (bytes, or a function that reads them, such as a
    ``PartitionedDataset``'s partitions) through ``load_rgb``, in the mapping's order.

    A file that cannot be read or decoded is left out and its reason kept, so that one
    bad file never stops the others. Files are decoded by a few threads (decoding and
    OpenCV release the GIL); the result does not depend on their number.
    """
    keys = list(sources)
    workers = min(len(keys), os.cpu_count() or 1)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            results = list(
                pool.map(
                    lambda key: _load_or_reason(
                        sources[key], size, preprocessing, max_pixels, formats
                    ),
                    keys,
                )
            )
    else:
        results = [
            _load_or_reason(sources[key], size, preprocessing, max_pixels, formats)
            for key in keys
        ]
    decoded = {
        key: result
        for key, result in zip(keys, results, strict=True)
        if isinstance(result, np.ndarray)
    }
    return DecodedImages(
        np.stack(list(decoded.values()))
        if decoded
        else np.zeros((0, *size, 3), np.uint8),
        list(decoded),
        {
            key: result
            for key, result in zip(keys, results, strict=True)
            if isinstance(result, str)
        },
    )
