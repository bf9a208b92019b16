"""``PngFilesDataset`` writes PNG bytes as they are, replaces the folder, and loads
them back by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.io import DatasetError

from brain_tumor_mri.datasets import PngFilesDataset

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_saved_bytes_are_the_files_and_load_back(tmp_path: Path):
    dataset = PngFilesDataset(filepath=tmp_path / "figures" / "test")
    figures = {"roc.png": PNG_MAGIC + b"roc", "confusion.png": PNG_MAGIC + b"cm"}
    dataset.save(figures)
    assert (tmp_path / "figures/test/roc.png").read_bytes() == figures["roc.png"]
    assert dataset.load() == figures
    assert list(dataset.load()) == ["confusion.png", "roc.png"]
    dataset.save({"other.png": PNG_MAGIC})
    assert list(dataset.load()) == ["other.png"]
    assert dataset.exists()


@pytest.mark.parametrize("name", ["../escape.png", "notes.txt", "a/b.png"])
def test_a_name_that_is_not_a_png_file_of_the_folder_is_refused(
    tmp_path: Path, name: str
):
    with pytest.raises(DatasetError, match="not the name of a PNG file"):
        PngFilesDataset(filepath=tmp_path).save({name: PNG_MAGIC})


def test_a_missing_folder_says_so(tmp_path: Path):
    dataset = PngFilesDataset(filepath=tmp_path / "absent")
    assert not dataset.exists()
    with pytest.raises(DatasetError, match="No folder of figures"):
        dataset.load()
