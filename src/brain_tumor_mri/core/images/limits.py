"""What may be decoded: the largest image, the allowed formats, and the error of a file
that cannot be read."""

from __future__ import annotations

from collections.abc import Iterable

from PIL import Image

from brain_tumor_mri.core.dicom import DICOM_FORMAT

# The largest image, in pixels (width x height), that is decoded: far below PIL's own
# decompression-bomb limit (89 MP), far above any MRI slice. The parameter
# ``image_input.max_image_pixels`` sets it for the pipelines and the served model.
DEFAULT_MAX_PIXELS = 25_000_000
# The image formats that are decoded (Pillow's names, and DICOM, read by pydicom),
# unless the parameter ``image_input.image_formats`` says otherwise; any other file
# is refused before Pillow picks a plugin for it.
DEFAULT_FORMATS = ("JPEG", "PNG", DICOM_FORMAT)
# Never decoded, whatever ``image_formats`` says: Pillow hands PostScript to
# Ghostscript, a known remote-code-execution path for files from users.
FORBIDDEN_FORMATS = frozenset({"EPS"})
# The smallest side, in pixels, of the model's input (``image_size``): ResNet-50 halves
# it five times. The parameter schema refuses a smaller one before a run, and the model
# before it is built.
MIN_IMAGE_SIDE = 32


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
