"""LocalFilesDataset: every file under a folder, each linked folder listed once."""

from __future__ import annotations

from pathlib import Path

import pytest

from brain_tumor_mri.datasets import LocalFilesDataset


def test_local_files_lists_each_linked_folder_once(tmp_path: Path):
    """A link to a folder outside is followed; a link to a folder listed already, a
    loop and a broken link are each one entry whose read says why."""
    root, outside = tmp_path / "images", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    outside.mkdir()
    (root / "a" / "scan.jpg").write_bytes(b"scan")
    (outside / "far.jpg").write_bytes(b"far")
    (root / "far").symlink_to(outside)
    (root / "later").symlink_to(outside)
    (root / "b").symlink_to("a")
    (root / "a" / "up").symlink_to("..")
    (root / "broken.jpg").symlink_to("nowhere.jpg")

    files = LocalFilesDataset(path=root).load()

    assert sorted(files) == [
        "a/scan.jpg",
        "a/up",
        "b",
        "broken.jpg",
        "far/far.jpg",
        "later",
    ]
    assert files["far/far.jpg"]() == b"far"
    for name, reason in {
        "later": "symbolic link to the folder 'far', listed there, not followed",
        "b": "symbolic link to the folder 'a', listed there, not followed",
        "a/up": "symbolic link loop (a link to a folder that contains it), not followed",
        "broken.jpg": "No such file or directory",
    }.items():
        with pytest.raises(OSError) as error:
            files[name]()
        assert error.value.strerror == reason, name
