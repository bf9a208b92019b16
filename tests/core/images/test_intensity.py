"""Intensity normalisation of the shared image loader, on real slices."""

from __future__ import annotations

import numpy as np
import pytest

from brain_tumor_mri.core.images.intensity import normalise_intensity
from brain_tumor_mri.core.images.loading import load_rgb
from tests.conftest import SHARED_DATA

DIM_SLICE = "Training/glioma_tumor/gg (1).jpg"
BRIGHT_SLICE = "Training/meningioma_tumor/m (2).jpg"


def test_percentile_normalisation_stretches_to_the_full_range() -> None:
    data = (SHARED_DATA / DIM_SLICE).read_bytes()
    dim = (load_rgb(data).astype(np.float32) * 0.4).astype(np.uint8)

    stretched = normalise_intensity(dim, "percentile")

    assert dim.max() < 110
    foreground = stretched[dim > 0]
    assert np.percentile(foreground, 99) >= 250
    assert stretched.shape == dim.shape
    assert (stretched[..., 0] == stretched[..., 2]).all()


def test_clahe_and_unknown_normalisation() -> None:
    data = (SHARED_DATA / BRIGHT_SLICE).read_bytes()
    rgb = load_rgb(data, (128, 128))

    equalised = normalise_intensity(rgb, "clahe")

    assert equalised.shape == rgb.shape and equalised.dtype == np.uint8
    assert not np.array_equal(equalised, rgb)
    np.testing.assert_array_equal(normalise_intensity(rgb, None), rgb)
    with pytest.raises(ValueError, match="percentile, clahe or null"):
        normalise_intensity(rgb, "zscore")
