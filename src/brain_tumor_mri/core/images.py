"""Reading image files of any common colour mode, and DICOM files, as 8-bit RGB arrays."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import cv2
import imagehash
import numpy as np
from PIL import Image, UnidentifiedImageError

from brain_tumor_mri.core.dicom import (
    DICOM_FORMAT,
    DicomReadError,
    decode_dicom,
    is_dicom,
    read_dicom_header,
)

# Modes that need more than a plain ``Image.convert("RGB")``: 16- and 32-bit
# integer images, which PIL would clip to 255 instead of rescaling.
_HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
# Modes that ``Image.reduce`` averages (palette images are converted first).
_REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "F")
# The largest image, in pixels (width x height), that is decoded: far below PIL's own
# decompression-bomb limit (89 MP), far above any MRI slice. The parameter
# ``preprocessing.max_image_pixels`` sets it for the pipelines and the served model.
DEFAULT_MAX_PIXELS = 25_000_000
# Pixels converted at a time from 16 to 8 bits, so that no full-size float copy exists.
_STRIP_PIXELS = 1 << 20
# The image formats that are decoded (Pillow's names, and DICOM, read by pydicom),
# unless the parameter ``preprocessing.image_formats`` says otherwise; any other file
# is refused before Pillow picks a plugin for it.
DEFAULT_FORMATS = ("JPEG", "PNG", DICOM_FORMAT)
# Never decoded, whatever ``image_formats`` says: Pillow hands PostScript to
# Ghostscript, a known remote-code-execution path for files from users.
FORBIDDEN_FORMATS = frozenset({"EPS"})


class ImageHeader(NamedTuple):
    width: int
    height: int
    mode: str
    format: str


class ImageReadError(ValueError):
    """An image file that cannot be decoded, with a human-readable reason."""


def check_pixels(width: int, height: int, max_pixels: int | None) -> None:
    """Raise ``ImageReadError`` for an image of more than ``max_pixels`` (None: no limit)."""
    if max_pixels is not None and width * height > max_pixels:
        raise ImageReadError(
            f"image is {width} x {height} pixels, over the limit of {max_pixels}"
        )


def check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """The allow-list of image formats; ``ValueError`` for a format that Pillow does
    not decode or that is never allowed (PostScript)."""
    Image.init()
    chosen = tuple(str(name).upper() for name in formats)
    forbidden = sorted(FORBIDDEN_FORMATS.intersection(chosen))
    if forbidden:
        raise ValueError(
            f"{', '.join(forbidden)} can never be allowed: Pillow hands it to "
            "Ghostscript, which must not see files from users"
        )
    unknown = sorted(set(chosen) - set(Image.ID) - {DICOM_FORMAT})
    if unknown:
        raise ValueError(
            f"unknown image format {', '.join(unknown)} (Pillow's names, e.g. "
            "JPEG, PNG, TIFF, BMP, or DICOM)"
        )
    return chosen


def _check_dicom_allowed(formats: Sequence[str]) -> None:
    allowed = check_formats(formats)
    if DICOM_FORMAT not in allowed:
        raise ImageReadError(
            f"DICOM file, not an accepted format ({', '.join(allowed)}; "
            "preprocessing.image_formats)"
        )


def _detected_format(data: bytes) -> str | None:
    """The format that Pillow reads in the file's header (None: none); nothing is
    decoded, so no plugin runs past the header."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format
    except Exception:  # noqa: BLE001 (any file that is not an image)
        return None


def _open(data: bytes, formats: Sequence[str]) -> Image.Image:
    """The image with its header read and its pixels not decoded yet.

    Only the plugins of ``formats`` see the file; any other format, and an image of
    several frames (animated or multi-page), raises ``ImageReadError``.
    """
    allowed = check_formats(formats)
    try:
        image = Image.open(
            io.BytesIO(data), formats=[f for f in allowed if f != DICOM_FORMAT]
        )
    except Image.DecompressionBombError as error:
        raise ImageReadError(
            f"image over PIL's decompression-bomb limit: {error}"
        ) from error
    except UnidentifiedImageError as error:
        detected = _detected_format(data)
        if detected is None:
            raise
        raise ImageReadError(
            f"{detected} image, not an accepted format ({', '.join(allowed)}; "
            "preprocessing.image_formats)"
        ) from error
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        image.close()
        raise ImageReadError(
            f"{image.format} image of {frames} frames (animated or multi-page): "
            "only single images are accepted"
        )
    return image


def read_header(
    data: bytes,
    max_pixels: int | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
) -> ImageHeader:
    """Size, colour mode and format from the file header, without decoding pixels.

    An image of more than ``max_pixels``, or of a format not in ``formats``, raises
    ``ImageReadError``.
    """
    if not data:
        raise ImageReadError("empty file (0 bytes)")
    if is_dicom(data):
        _check_dicom_allowed(formats)
        return _dicom_header(data, max_pixels)
    try:
        with _open(data, formats) as image:
            check_pixels(image.width, image.height, max_pixels)
            return ImageHeader(
                image.width, image.height, image.mode, image.format or ""
            )
    except ImageReadError:
        raise
    except UnidentifiedImageError as error:
        raise ImageReadError("not an image file (unrecognised format)") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageReadError(f"unreadable image header: {error}") from error


def decode_image(
    data: bytes,
    draft_size: tuple[int, int] | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    formats: Sequence[str] = DEFAULT_FORMATS,
) -> Image.Image:
    """Fully decode an image; truncated or corrupt files raise ``ImageReadError``.

    An image of more than ``max_pixels``, or of a format not in ``formats``, is
    refused from its header, before any pixel is decoded. ``draft_size`` (width,
    height) shrinks the image as early as possible to no less than that size, which is
    all a later resize needs: JPEG decoding scales down in the DCT domain, other
    formats are reduced by an integer factor (box average) right after decoding,
    16-bit images after their conversion to 8 bits.
    """
    if not data:
        raise ImageReadError("empty file (0 bytes)")
    if is_dicom(data):
        _check_dicom_allowed(formats)
        image = _decode_dicom(data, draft_size, max_pixels)
        return image if draft_size is None else _reduce(image, draft_size)
    try:
        image = _open(data, formats)
        check_pixels(image.width, image.height, max_pixels)
        if draft_size is not None and image.format == "JPEG":
            image.draft("RGB", draft_size)
        image.load()
    except ImageReadError:
        raise
    except UnidentifiedImageError as error:
        raise ImageReadError("not an image file (unrecognised format)") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageReadError(f"corrupt or truncated image: {error}") from error
    return image if draft_size is None else _reduce(image, draft_size)


def _dicom_header(data: bytes, max_pixels: int | None) -> ImageHeader:
    """A DICOM's header as an image's (format ``DICOM``), see ``brain_tumor_mri.core.dicom``."""
    try:
        header = read_dicom_header(data)
    except DicomReadError as error:
        raise ImageReadError(str(error)) from error
    check_pixels(header.width, header.height, max_pixels)
    return ImageHeader(header.width, header.height, header.mode, DICOM_FORMAT)


def _decode_dicom(
    data: bytes, draft_size: tuple[int, int] | None, max_pixels: int | None
) -> Image.Image:
    """A DICOM's slice as a viewer shows it (8-bit grey or RGB), its size checked first."""
    _dicom_header(data, max_pixels)
    try:
        return Image.fromarray(decode_dicom(data, draft_size))
    except DicomReadError as error:
        raise ImageReadError(str(error)) from error


def _reduce(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The image reduced by the largest integer factor that keeps it at least ``size``."""
    factor = min(image.width // size[0], image.height // size[1])
    if factor < 2:
        return image
    if image.mode in _HIGH_BIT_MODES:
        image = Image.fromarray(_high_bit_to_gray8(image))
    if image.mode not in _REDUCIBLE_MODES:
        return image
    return image.reduce(factor)


def _high_bit_to_gray8(image: Image.Image) -> np.ndarray:
    """A 16- or 32-bit image rescaled by its maximum to uint8, strip by strip."""
    peak = image.getextrema()[1]
    scale = 255.0 / peak if peak > 0 else 1.0
    gray = np.empty((image.height, image.width), dtype=np.uint8)
    rows = max(1, _STRIP_PIXELS // max(1, image.width))
    for top in range(0, image.height, rows):
        bottom = min(top + rows, image.height)
        strip = np.asarray(image.crop((0, top, image.width, bottom)), dtype=np.float64)
        gray[top:bottom] = np.clip(np.rint(strip * scale), 0, 255)
    return gray


def to_rgb8(image: Image.Image) -> np.ndarray:
    """Convert grayscale, palette, RGBA, CMYK or 16-bit images to an 8-bit RGB array."""
    if image.mode in _HIGH_BIT_MODES:
        gray = _high_bit_to_gray8(image)
        return np.repeat(gray[..., None], 3, axis=-1)
    if image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    ):
        # Composite onto black, the background of MRI slices.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8)


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to ``size`` (height, width) with area averaging, the right filter to shrink."""
    if rgb.shape[:2] == tuple(size):
        return rgb
    return cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def perceptual_hash(rgb: np.ndarray) -> str:
    """64-bit pHash (hex) of an RGB array, via a fixed 64x64 grayscale thumbnail.

    The thumbnail makes the hash independent of the decoded size and ~6x faster than
    hashing a full-size image; ``imagehash`` then reduces it to 32x32 and takes the DCT.
    """
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    thumbnail = cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA)
    return str(imagehash.phash(Image.fromarray(thumbnail)))


def brain_box(gray: np.ndarray, threshold: float, margin: float) -> tuple[int, ...]:
    """Square box ``(top, bottom, left, right)`` around the largest bright region.

    The slice is blurred and thresholded at ``threshold`` times its 99th percentile;
    the bounding box of the largest contour, grown by ``margin`` of its longer side on
    each edge and made square about its centre, is the brain. The box may reach past
    the image; ``crop_to_brain`` pads those parts with black. An image with no bright
    region gives the whole image.
    """
    height, width = gray.shape
    blurred = cv2.GaussianBlur(gray, (5, 5), 0)
    level = max(1.0, threshold * float(np.percentile(blurred, 99)))
    mask = (blurred > level).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return 0, height, 0, width
    x, y, w, h = cv2.boundingRect(max(contours, key=cv2.contourArea))
    side = max(w, h) * (1 + 2 * margin)
    centre_y, centre_x = y + h / 2, x + w / 2
    top, left = round(centre_y - side / 2), round(centre_x - side / 2)
    return top, top + round(side), left, left + round(side)


def crop_to_brain(rgb: np.ndarray, threshold: float, margin: float) -> np.ndarray:
    """The square around the brain (see ``brain_box``), padded with black where needed."""
    top, bottom, left, right = brain_box(
        cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), threshold, margin
    )
    height, width = rgb.shape[:2]
    pad = (
        (max(0, -top), max(0, bottom - height)),
        (max(0, -left), max(0, right - width)),
    )
    inside = rgb[max(0, top) : bottom, max(0, left) : right]
    return np.pad(inside, (*pad, (0, 0)))


def normalise_intensity(rgb: np.ndarray, method: str | None) -> np.ndarray:
    """Per-image intensity normalisation of a grey slice (kept as 3 equal channels).

    ``percentile``: stretch the 1st to 99th percentile of the non-black pixels to
    0-255; ``clahe``: OpenCV's contrast-limited adaptive histogram equalisation;
    ``None``: unchanged.
    """
    if method is None:
        return rgb
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if method == "clahe":
        gray = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)
    elif method == "percentile":
        foreground = gray[gray > 0]
        if foreground.size:
            low, high = np.percentile(foreground, (1, 99))
            scale = 255.0 / max(high - low, 1.0)
            gray = np.clip((gray.astype(np.float32) - low) * scale, 0, 255)
            gray = np.rint(gray).astype(np.uint8)
    else:
        raise ValueError(
            f"Unknown image_preprocessing.intensity '{method}': use percentile, "
            "clahe or null."
        )
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


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


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 RGB array encoded as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
