"""Reading image files of any common colour mode as 8-bit RGB arrays."""

from __future__ import annotations

import io
from typing import NamedTuple

import cv2
import imagehash
import numpy as np
from PIL import Image, UnidentifiedImageError

# Modes that need more than a plain ``Image.convert("RGB")``: 16- and 32-bit
# integer images, which PIL would clip to 255 instead of rescaling.
_HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


class ImageHeader(NamedTuple):
    width: int
    height: int
    mode: str
    format: str


class ImageReadError(ValueError):
    """An image file that cannot be decoded, with a human-readable reason."""


def read_header(data: bytes) -> ImageHeader:
    """Size, colour mode and format from the file header, without decoding pixels."""
    if not data:
        raise ImageReadError("empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            return ImageHeader(
                image.width, image.height, image.mode, image.format or ""
            )
    except UnidentifiedImageError as error:
        raise ImageReadError("not an image file (unrecognised format)") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageReadError(f"unreadable image header: {error}") from error


def decode_image(data: bytes, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Fully decode an image; truncated or corrupt files raise ``ImageReadError``.

    ``draft_size`` lets JPEG decoding scale down in the DCT domain (much faster)
    to no less than that size, which is all a later resize needs.
    """
    if not data:
        raise ImageReadError("empty file (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data))
        if draft_size is not None and image.format == "JPEG":
            image.draft("RGB", draft_size)
        image.load()
    except UnidentifiedImageError as error:
        raise ImageReadError("not an image file (unrecognised format)") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageReadError(f"corrupt or truncated image: {error}") from error
    return image


def to_rgb8(image: Image.Image) -> np.ndarray:
    """Convert grayscale, palette, RGBA, CMYK or 16-bit images to an 8-bit RGB array."""
    if image.mode in _HIGH_BIT_MODES:
        pixels = np.asarray(image, dtype=np.float64)
        peak = pixels.max()
        scaled = pixels * (255.0 / peak) if peak > 0 else pixels
        gray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
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


def load_rgb(data: bytes, size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode bytes to an 8-bit RGB array, resized to ``size`` (height, width) if given."""
    draft = None if size is None else (size[1], size[0])
    rgb = to_rgb8(decode_image(data, draft_size=draft))
    return rgb if size is None else resize_rgb(rgb, size)
