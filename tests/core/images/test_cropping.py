"""The brain crop of the shared image loader, on drawn images and real slices."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from brain_tumor_mri.core.images.cropping import brain_box, crop_to_brain
from brain_tumor_mri.core.images.loading import load_rgb
from tests.conftest import SHARED_DATA
from tests.helpers.raw_folders import IMAGE_PREPROCESSING

CROP = IMAGE_PREPROCESSING["crop_to_brain"]
# Real slices of each class, from both splits; some have wide black borders.
REAL_SLICES = [
    "Training/glioma_tumor/gg (1).jpg",
    "Training/meningioma_tumor/m (2).jpg",
    "Training/no_tumor/1.jpg",
    "Training/pituitary_tumor/p (10).jpg",
    "Testing/glioma_tumor/image(1).jpg",
    "Testing/no_tumor/image(1).jpg",
]


def _png(rgb: np.ndarray) -> bytes:
    return cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()


def _foreground(gray: np.ndarray) -> np.ndarray:
    blurred = cv2.GaussianBlur(gray, (5, 5), 0)
    return blurred > CROP["threshold"] * np.percentile(blurred, 99)


def test_crop_finds_a_bright_disc_on_black() -> None:
    image = np.zeros((200, 300, 3), np.uint8)
    cv2.circle(image, (200, 80), 40, (180, 180, 180), -1)

    top, bottom, left, right = brain_box(image[..., 0], threshold=0.1, margin=0.0)

    assert abs(top - 40) <= 2 and abs(bottom - 121) <= 2
    assert abs(left - 160) <= 2 and abs(right - 241) <= 2
    cropped = crop_to_brain(image, threshold=0.1, margin=0.1)
    assert cropped.shape[0] == cropped.shape[1]
    assert abs(cropped.shape[0] - 81 * 1.2) <= 3
    # The disc fills the crop's centre; its corners are background.
    centre = cropped.shape[0] // 2
    assert cropped[centre, centre, 0] == 180
    assert cropped[0, 0, 0] == 0


def test_crop_pads_a_box_that_leaves_the_image_with_black() -> None:
    image = np.zeros((100, 100, 3), np.uint8)
    image[:, 70:] = 200  # a bright band at the right edge, taller than wide

    cropped = crop_to_brain(image, threshold=0.1, margin=0.0)

    assert cropped.shape == (100, 100, 3)
    assert (cropped[:, :35] == 0).all()  # padding on the left of the band
    assert (cropped[:, 37:63] == 200).all()


def test_crop_keeps_an_all_black_image_whole() -> None:
    black = np.zeros((120, 90, 3), np.uint8)

    assert brain_box(black[..., 0], 0.1, 0.02) == (0, 120, 0, 90)
    np.testing.assert_array_equal(crop_to_brain(black, 0.1, 0.02), black)
    loaded = load_rgb(_png(black), (64, 64), IMAGE_PREPROCESSING)
    assert loaded.shape == (64, 64, 3)
    assert not loaded.any()


@pytest.mark.parametrize("relative", REAL_SLICES)
def test_crop_of_real_slices_keeps_the_whole_head(relative: str) -> None:
    data = (SHARED_DATA / relative).read_bytes()
    rgb = load_rgb(data)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)

    top, bottom, left, right = brain_box(gray, CROP["threshold"], CROP["margin"])

    assert bottom - top == right - left  # square
    head = _foreground(gray)
    inside = head[max(0, top) : bottom, max(0, left) : right].sum()
    assert inside >= 0.98 * head.sum()
    assert load_rgb(data, (96, 96), IMAGE_PREPROCESSING).shape == (96, 96, 3)


def test_crop_removes_wide_black_borders_of_a_real_slice() -> None:
    data = (SHARED_DATA / "Training/no_tumor/1.jpg").read_bytes()
    whole = load_rgb(data, (96, 96))
    cropped = load_rgb(data, (96, 96), IMAGE_PREPROCESSING)

    dark_whole = (whole.max(axis=-1) < 10).mean()
    dark_cropped = (cropped.max(axis=-1) < 10).mean()
    assert dark_cropped < dark_whole - 0.05
