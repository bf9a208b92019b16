"""Reading an image file's header and decoding its pixels (Pillow, or pydicom for
DICOM), refused from the header when it is too large or of a format not allowed."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

from PIL import Image, UnidentifiedImageError

from brain_tumor_mri.core.dicom import (
    DICOM_FORMAT,
    DicomReadError,
    decode_dicom,
    is_dicom,
    read_dicom_header,
)
from brain_tumor_mri.core.images.colour import HIGH_BIT_MODES, high_bit_to_gray8
from brain_tumor_mri.core.images.limits import (
    DEFAULT_FORMATS,
    DEFAULT_MAX_PIXELS,
    ImageReadError,
    check_formats,
    check_pixels,
)

# Modes that ``Image.reduce`` averages (palette images are converted first).
_REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "F")


class ImageHeader(NamedTuple):
    width: int
    height: int
    mode: str
    format: str


def _check_dicom_allowed(formats: Sequence[str]) -> None:
    allowed = check_formats(formats)
    if DICOM_FORMAT not in allowed:
        raise ImageReadError(
            f"DICOM file, not an accepted format ({', '.join(allowed)}; "
            "image_input.image_formats)"
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
            "image_input.image_formats)"
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
    except Exception as error:  # noqa: BLE001 (every error of one file is its reason)
        raise ImageReadError(f"unreadable image header: {_one_line(error)}") from error


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
    except Exception as error:  # noqa: BLE001 (every error of one file is its reason)
        raise ImageReadError(
            f"corrupt or truncated image: {_one_line(error)}"
        ) from error
    return image if draft_size is None else _reduce(image, draft_size)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


@contextmanager
def _dicom_reason() -> Iterator[None]:
    """A DICOM's every error as ``ImageReadError``: ``DicomReadError``'s one-line
    reason, or the class of any other error (its message may quote the file)."""
    try:
        yield
    except DicomReadError as error:
        raise ImageReadError(str(error)) from None
    except Exception as error:  # noqa: BLE001 (every error of one file is its reason)
        raise ImageReadError(f"unreadable DICOM ({type(error).__name__})") from None


def _dicom_header(data: bytes, max_pixels: int | None) -> ImageHeader:
    """A DICOM's header as an image's (format ``DICOM``), see ``brain_tumor_mri.core.dicom``."""
    with _dicom_reason():
        header = read_dicom_header(data)
    check_pixels(header.width, header.height, max_pixels)
    return ImageHeader(header.width, header.height, header.mode, DICOM_FORMAT)


def _decode_dicom(
    data: bytes, draft_size: tuple[int, int] | None, max_pixels: int | None
) -> Image.Image:
    """A DICOM's slice as a viewer shows it (8-bit grey or RGB), its size checked first."""
    _dicom_header(data, max_pixels)
    with _dicom_reason():
        return Image.fromarray(decode_dicom(data, draft_size, max_pixels))


def _reduce(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The image reduced by the largest integer factor that keeps it at least ``size``."""
    factor = min(image.width // size[0], image.height // size[1])
    if factor < 2:
        return image
    if image.mode in HIGH_BIT_MODES:
        image = Image.fromarray(high_bit_to_gray8(image))
    if image.mode not in _REDUCIBLE_MODES:
        return image
    return image.reduce(factor)
