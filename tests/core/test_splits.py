"""Each evaluated split predicts the images of the split it is named after."""

from __future__ import annotations

from brain_tumor_mri.core.splits import REPORTED_SPLITS, images_of


def test_an_adapted_split_predicts_the_images_of_its_own_split() -> None:
    assert images_of("val") == "val"
    assert images_of("test_dedup_adapted") == "test_dedup"
    assert images_of("test_dedup_tent") == "test_dedup"
    assert images_of("test_dedup_dfr") == "test_dedup"
    assert REPORTED_SPLITS["external_adapted"] == "external"
