"""Per-image intensity normalisation of a grey slice."""

from __future__ import annotations

import cv2
import numpy as np


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
