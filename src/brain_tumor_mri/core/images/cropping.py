"""Cropping a slice to the square around the brain."""

from __future__ import annotations

import cv2
import numpy as np


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
