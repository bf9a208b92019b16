"""Conversion of any colour mode (grey, palette, alpha, CMYK, 16 and 32 bits) to 8-bit RGB."""

from __future__ import annotations

import numpy as np
from PIL import Image

# Modes that need more than a plain ``Image.convert("RGB")``: 16- and 32-bit
# integer images, which PIL would clip to 255 instead of rescaling.
HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
# Pixels converted at a time from 16 to 8 bits, so that no full-size float copy exists.
_STRIP_PIXELS = 1 << 20


def high_bit_to_gray8(image: Image.Image) -> np.ndarray:
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
    if image.mode in HIGH_BIT_MODES:
        gray = high_bit_to_gray8(image)
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
