"""The nodes of the site adaptation pipeline, on real slices and a small model."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from brain_tumor_mri.datasets.mlflow_model_version_dataset import SourceModel
from brain_tumor_mri.pipelines.site_adaptation.nodes import (
    adaptation_tags,
    adapted_calibration,
    content_fingerprint,
    example_image,
    method_settings,
    read_site_images,
)
from brain_tumor_mri.pipelines.site_adaptation.params import SiteAdaptationParams
from tests.helpers.raw_folders import IMAGE_INPUT
from tests.helpers.training_projects import small_classifier


def input_of(*formats: str) -> dict:
    """The shared image_input group, with only ``formats``."""
    return {**IMAGE_INPUT, "image_formats": list(formats)}


PARAMS = {
    "method": "tent",
    "batch_size": 8,
    "tent": {"steps": 3, "learning_rate": 0.001, "diversity_weight": 1.0},
}


@pytest.fixture(scope="module")
def source() -> SourceModel:
    return SourceModel(
        small_classifier(32),
        {"temperature": 2.0, "confidence_threshold": 0.5, "target_reached": True},
        "models:/brain_tumor_mri_classifier/3",
        "3",
        None,
        {},
    )


def site_files(shared: Path) -> dict[str, bytes]:
    paths = sorted((shared / "Testing" / "glioma_tumor").glob("*.jpg"))[:3]
    return {f"patient_{i}.jpg": path.read_bytes() for i, path in enumerate(paths)}


def test_the_fingerprint_is_of_contents_not_names_or_order(shared_data_dir: Path):
    files = site_files(shared_data_dir)
    hashes = [hashlib.sha256(data).hexdigest() for data in files.values()]
    assert content_fingerprint(hashes) == content_fingerprint(hashes[::-1])
    assert content_fingerprint(hashes) != content_fingerprint(hashes[:2])


def test_site_images_are_read_with_reasons_counted_and_renamed_files_match(
    shared_data_dir: Path, source: SourceModel
):
    files = site_files(shared_data_dir)
    loaders = {name: (lambda data=data: data) for name, data in files.items()}
    bad = {"a.txt": lambda: b"text", "b.txt": lambda: b"more text", "c.jpg": bytes}
    read = read_site_images({**loaders, **bad}, source, input_of("jpeg", "png"))
    assert read["images"].shape == (3, 32, 32, 3)
    assert read["files"] == 6
    assert sum(read["unreadable"].values()) == 3
    assert read["unreadable"]["empty file (0 bytes)"] == 1
    renamed = {f"x/{i}.jpg": loader for i, loader in enumerate(loaders.values())}
    again = read_site_images(renamed, source, input_of("jpeg"))
    assert again["fingerprint"] == read["fingerprint"]


def test_a_folder_of_no_readable_image_stops(source: SourceModel):
    with pytest.raises(ValueError, match="None of the 2 files"):
        read_site_images(
            {"a": lambda: b"", "b": lambda: b"x"}, source, input_of("jpeg")
        )


def test_calibration_and_tags_say_how_and_from_what(source: SourceModel):
    site = {"images": np.zeros((5, 32, 32, 3), np.uint8), "fingerprint": "f" * 64}
    calibration = adapted_calibration(source, site, PARAMS, 7)
    assert calibration["temperature"] == 2.0
    adapted = calibration["adapted"]
    assert adapted["settings"] == {
        "batch_size": 8,
        "steps": 3,
        "learning_rate": 0.001,
        "diversity_weight": 1.0,
        "seed": 7,
    }
    assert (adapted["from_version"], adapted["site_images"]) == ("3", 5)
    tags = adaptation_tags(calibration)
    assert tags["site_adaptation.from_version"] == "3"
    assert tags["site_adaptation.images"] == "5"
    assert tags["site_adaptation.fingerprint"] == "f" * 64
    assert all(isinstance(value, str) for value in tags.values())


def test_adabn_records_only_its_own_settings():
    params = SiteAdaptationParams.model_validate({**PARAMS, "method": "adabn"})
    assert method_settings(params, 7) == {"batch_size": 8}


def test_the_example_is_the_source_models_own():
    image = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), np.uint8)
    png = example_image(image)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), image[0])
    frame = pd.DataFrame({"image": [base64.b64encode(png).decode()]})
    assert example_image(frame) == png
    with pytest.raises(ValueError, match="no input example"):
        example_image(None)
