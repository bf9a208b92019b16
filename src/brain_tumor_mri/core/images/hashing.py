"""Perceptual hashes of images, to find near-duplicates (preprocessing only)."""

from __future__ import annotations

import cv2
import imagehash
import numpy as np
from PIL import Image


def perceptual_hash(rgb: np.ndarray) -> str:
    """64-bit pHash (hex) of an RGB array, via a fixed 64x64 grayscale thumbnail.

    The thumbnail makes the hash independent of the decoded size and ~6x faster than
    hashing a full-size image; ``imagehash`` then reduces it to 32x32 and takes the DCT.
    """
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    thumbnail = cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA)
    return str(imagehash.phash(Image.fromarray(thumbnail)))
