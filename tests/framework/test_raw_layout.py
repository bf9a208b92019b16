"""The raw folder's layout check: each refusal names the path, the layout expected
and where the README explains it."""

from __future__ import annotations

from pathlib import Path

import pytest

from brain_tumor_mri.framework.raw_layout import RawDataLayoutError, check_raw_layout
from tests.helpers.raw_folders import CLASSES, PREPROCESSING, make_raw_folder


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda root: root / "absent", "Raw data folder not found"),
        (
            lambda root: (__import__("shutil").rmtree(root / "Testing"), root)[1],
            "missing split folder",
        ),
        (
            lambda root: (
                __import__("shutil").rmtree(root / "Training" / "no_tumor"),
                root,
            )[1],
            "no folder for class 'no_tumor'",
        ),
    ],
)
def test_layout_check_names_path_layout_and_readme(
    tmp_path: Path, breakage, message: str
):
    root = breakage(make_raw_folder(tmp_path / "raw"))
    with pytest.raises(RawDataLayoutError) as error:
        check_raw_layout(root, PREPROCESSING["split_folders"], CLASSES)
    text = error.value.message
    assert message in text and str(tmp_path) in text
    assert "Expected layout" in text and "README.md" in text and "raw_data_dir" in text


def test_layout_check_rejects_an_empty_class_folder(tmp_path: Path):
    root = make_raw_folder(tmp_path / "raw")
    for file in (root / "Testing" / "pituitary").iterdir():
        file.unlink()
    with pytest.raises(RawDataLayoutError, match="empty class folder"):
        check_raw_layout(root, PREPROCESSING["split_folders"], CLASSES)
