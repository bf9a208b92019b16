"""Unit tests of the preprocessing nodes on small images that the tests make."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError
from kedro_datasets.partitions import PartitionedDataset
from PIL import Image

from brain_tumor_mri.core.images.limits import ImageReadError
from brain_tumor_mri.core.images.loading import load_rgb
from brain_tumor_mri.datasets import LocalFilesDataset, NumpyArraysDataset
from brain_tumor_mri.pipelines.preprocessing.nodes import (
    audit_leakage,
    cache_split,
    index_raw_files,
    select_test_dedup,
    split_data,
    validate_images,
)
from tests.helpers.raw_folders import (
    CLASSES,
    IMAGE_INPUT,
    IMAGE_PREPROCESSING,
    LINKS,
    PREPROCESSING,
    SOURCE_GROUPS,
    add_links,
    encode,
    make_raw_folder,
    synthetic_slice,
)

BAD = {
    "Training/glioma_tumor/truncated.jpg": "corrupt",
    "Training/glioma_tumor/empty.jpg": "unreadable",
    "Training/meningioma/notes.txt": "unreadable",
    "Training/meningioma/.DS_Store": "unreadable",
    "Training/no_tumor/Thumbs.db": "unreadable",
    "Training/unknown_class/x.jpg": "ignored",
    "README.txt": "ignored",
}


def raw_partitions(root: Path) -> dict:
    """The raw images as the catalog gives them: a real LocalFilesDataset of bytes."""
    return LocalFilesDataset(path=root).load()


@pytest.fixture(scope="module")
def raw_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_raw_folder(tmp_path_factory.mktemp("raw"))


@pytest.fixture(scope="module")
def raw(raw_root: Path) -> dict:
    return raw_partitions(raw_root)


@pytest.fixture(scope="module")
def manifest(raw: dict) -> pd.DataFrame:
    return index_raw_files(raw, CLASSES, SOURCE_GROUPS, PREPROCESSING, IMAGE_INPUT)


@pytest.fixture(scope="module")
def validated(raw: dict, manifest: pd.DataFrame) -> tuple:
    return validate_images(raw, manifest, PREPROCESSING, IMAGE_INPUT)


@pytest.fixture(scope="module")
def audit(validated) -> tuple[pd.DataFrame, dict]:
    return audit_leakage(validated[0], PREPROCESSING)


def test_index_lists_every_file_with_hash_and_header(
    raw_root: Path, manifest: pd.DataFrame
):
    files = sorted(
        p.relative_to(raw_root).as_posix() for p in raw_root.rglob("*") if p.is_file()
    )
    assert sorted(manifest["path"]) == files
    row = manifest.set_index("path").loc["Training/pituitary/sixteen.png"]
    data = (raw_root / "Training/pituitary/sixteen.png").read_bytes()
    assert row["sha256"] == hashlib.sha256(data).hexdigest()
    assert row["size_bytes"] == len(data)
    assert (row["width"], row["height"], row["mode"]) == (64, 64, "I;16")
    assert row["label"] == "pituitary_tumor"
    aliased = manifest[manifest["class_folder"] == "meningioma"]["label"].unique()
    assert list(aliased) == ["meningioma_tumor"]


def test_index_marks_unknown_folders_and_non_images(manifest: pd.DataFrame):
    status = manifest.set_index("path")["status"]
    for path, expected in BAD.items():
        if expected != "corrupt":
            assert status[path] == expected, path
    reason = manifest.set_index("path")["reason"]
    assert "matches no class" in reason["Training/unknown_class/x.jpg"]
    assert "empty file" in reason["Training/glioma_tumor/empty.jpg"]


def test_links_in_the_raw_folder_are_reported_once_and_skipped(tmp_path: Path):
    root = make_raw_folder(tmp_path / "raw")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "extra.jpg").write_bytes(
        (root / "Training/glioma_tumor/image (0).jpg").read_bytes()
    )
    (root / "Training/no_tumor/outside").symlink_to(outside)
    add_links(root)
    raw = raw_partitions(root)

    manifest = index_raw_files(raw, CLASSES, SOURCE_GROUPS, PREPROCESSING, IMAGE_INPUT)
    valid, bad = validate_images(raw, manifest, PREPROCESSING, IMAGE_INPUT)

    reported = bad[bad["path"].isin(LINKS)]
    assert sorted(reported["path"]) == sorted(LINKS), "each link once"
    for row in reported.itertuples():
        assert (row.status, row.reason) == ("unreadable", LINKS[row.path][1])
    assert not bad["path"].str.startswith("Training/glioma_tumor/sibling/").any()
    assert not manifest["path"].str.startswith("Training/glioma_tumor/loop/").any()
    # A link to a folder outside the data set is followed, its files under the link.
    assert "Training/no_tumor/outside/extra.jpg" in set(valid["path"])
    assert len(valid) + len(bad) == len(manifest)


def test_index_limits_images_per_class(raw: dict):
    limited = index_raw_files(
        raw,
        CLASSES,
        SOURCE_GROUPS,
        {**PREPROCESSING, "max_images_per_class": 2},
        IMAGE_INPUT,
    )
    usable = limited[limited["status"] == "ok"]
    assert usable.groupby(["split", "label"]).size().max() == 2
    assert len(usable.groupby(["split", "label"])) == 8


def test_validate_reports_every_bad_file_and_loses_nothing(manifest, validated):
    valid, bad = validated
    assert len(valid) + len(bad) == len(manifest)
    assert set(valid["path"]).isdisjoint(bad["path"])
    reported = bad.set_index("path")
    for path, status in BAD.items():
        assert reported.loc[path, "status"] == status, path
        assert reported.loc[path, "reason"], path
    assert "truncated" in reported.loc["Training/glioma_tumor/truncated.jpg", "reason"]
    modes = set(valid["mode"])
    assert {"L", "RGBA", "P", "CMYK", "I;16", "RGB"} <= modes
    assert valid["phash"].str.fullmatch(r"[0-9a-f]{16}").all()


def test_validate_logs_counts(raw, manifest, caplog):
    with caplog.at_level("INFO"):
        validate_images(raw, manifest, PREPROCESSING, IMAGE_INPUT)
    assert "bad files listed in the bad-files report" in caplog.text
    assert "Skipping 'Training/glioma_tumor/truncated.jpg'" in caplog.text


@pytest.mark.parametrize(
    "mode, make",
    [
        ("L", lambda g: Image.fromarray(g, "L")),
        (
            "RGBA",
            lambda g: Image.fromarray(
                np.dstack([g] * 3 + [np.full_like(g, 255)]), "RGBA"
            ),
        ),
        (
            "P",
            lambda g: Image.fromarray(np.dstack([g] * 3)).convert(
                "P", palette=Image.Palette.ADAPTIVE
            ),
        ),
        ("CMYK", lambda g: Image.fromarray(np.dstack([g] * 3)).convert("CMYK")),
    ],
)
def test_load_rgb_converts_odd_modes_to_rgb8(mode: str, make):
    gray = synthetic_slice(7)
    image = make(gray)
    assert image.mode == mode
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    rgb = load_rgb(encode(image, fmt))
    assert rgb.dtype == np.uint8 and rgb.shape == (64, 64, 3)
    assert np.abs(rgb.astype(int).mean(axis=-1) - gray).mean() < 8


def test_load_rgb_rescales_16_bit_instead_of_clipping():
    gray = synthetic_slice(8).astype(np.uint16) * 200
    rgb = load_rgb(encode(Image.fromarray(gray), "PNG"))
    expected = np.rint(gray / gray.max() * 255).astype(np.uint8)
    np.testing.assert_array_equal(rgb[..., 0], expected)
    assert rgb.max() == 255 and len(np.unique(rgb)) > 100


def test_load_rgb_resizes_and_rejects_bad_bytes():
    data = encode(Image.fromarray(synthetic_slice(9)), "JPEG")
    assert load_rgb(data, (20, 30)).shape == (20, 30, 3)
    with pytest.raises(ImageReadError, match="truncated"):
        load_rgb(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="not an image"):
        load_rgb(b"plain text")


def test_audit_finds_exact_near_and_conflicting_duplicates(audit):
    pairs, summary = audit
    as_set = {
        frozenset((a, b)): row
        for a, b, row in zip(
            pairs["path_a"], pairs["path_b"], pairs.itertuples(), strict=True
        )
    }
    exact = as_set[
        frozenset(
            (
                "Training/glioma_tumor/image (1).jpg",
                "Testing/glioma_tumor/exact copy.jpg",
            )
        )
    ]
    assert exact.exact and exact.phash_distance == 0 and not exact.label_conflict
    near = as_set[
        frozenset(
            ("Training/meningioma/image (1).jpg", "Testing/meningioma/near copy.jpg")
        )
    ]
    assert not near.exact and not near.label_conflict
    conflict = as_set[
        frozenset(
            (
                "Training/pituitary/image (2).jpg",
                "Testing/no_tumor/mislabelled copy.jpg",
            )
        )
    ]
    assert conflict.label_conflict
    assert summary["exact_duplicates"]["groups_across_splits"] == 1
    assert summary["test_images_with_duplicate_in_train"]["total"] == 3
    assert summary["near_duplicates"]["label_conflict_pairs"] >= 1


def test_split_is_stratified_grouped_and_seeded(validated, audit):
    valid = validated[0]
    pairs, _ = audit
    split = split_data(valid, pairs, CLASSES, 42, PREPROCESSING)
    assert set(split["split"]) == {"train", "val", "test"}
    assert (
        split.groupby("label")["split"].apply(lambda s: (s == "val").sum()).min() >= 1
    )
    pool = split[split["split"] != "test"]
    assert pool.groupby("cluster")["split"].nunique().max() == 1
    dedup = set(split.loc[split["test_dedup"], "path"])
    assert "Testing/glioma_tumor/exact copy.jpg" not in dedup
    assert "Testing/meningioma/near copy.jpg" not in dedup
    assert len(dedup) == (split["split"] == "test").sum() - 3
    again = split_data(
        valid.sample(frac=1, random_state=1), pairs, CLASSES, 42, PREPROCESSING
    )
    pd.testing.assert_frame_equal(split, again)
    other = split_data(valid, pairs, CLASSES, 7, PREPROCESSING)
    assert not split["split"].equals(other["split"])


def test_cache_writes_uint8_images_and_labels_per_split(
    raw, validated, audit, tmp_path
):
    valid = validated[0]
    split = split_data(valid, audit[0], CLASSES, 42, PREPROCESSING)
    caches = {}
    for name in ("train", "val", "test"):
        dataset = NumpyArraysDataset(path=tmp_path / name)
        dataset.save(
            cache_split(
                raw,
                split,
                [24, 32],
                IMAGE_PREPROCESSING,
                PREPROCESSING,
                IMAGE_INPUT,
                split=name,
            )
        )
        caches[name] = dataset.load()
    for name, cache in caches.items():
        rows = split[split["split"] == name]
        assert cache["images"].dtype == np.uint8
        assert cache["images"].shape == (len(rows), 24, 32, 3)
        np.testing.assert_array_equal(cache["labels"], rows["label_index"])
        assert list(cache["paths"]) == list(rows["path"])
    for position in (0, -1):
        path = caches["train"]["paths"][position]
        expected = load_rgb(raw[path](), (24, 32), IMAGE_PREPROCESSING)
        np.testing.assert_array_equal(caches["train"]["images"][position], expected)
    dedup = select_test_dedup(caches["test"], split)
    assert len(dedup["labels"]) == split["test_dedup"].sum() == len(dedup["images"])
    assert set(dedup["paths"]) == set(split.loc[split["test_dedup"], "path"])


def test_arrays_dataset_streams_batches_into_one_array(tmp_path):
    batches = [np.full((n, 2, 3), n, dtype=np.uint8) for n in (3, 1, 2)]
    dataset = NumpyArraysDataset(path=tmp_path / "cache")
    dataset.save({"images": iter(batches), "labels": np.arange(6)})
    loaded = dataset.load()
    np.testing.assert_array_equal(loaded["images"], np.concatenate(batches))
    assert isinstance(loaded["images"], np.memmap)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        "images.npy",
        "labels.npy",
    ]
    with pytest.raises(DatasetError, match="does not match"):
        dataset.save({"images": iter([batches[0], np.zeros((1, 2, 4), np.uint8)])})
    np.testing.assert_array_equal(dataset.load()["labels"], np.arange(6))


def test_preprocessing_lists_an_image_over_the_limit_as_unreadable(tmp_path: Path):
    root = make_raw_folder(tmp_path / "raw")
    raw = PartitionedDataset(
        path=str(root),
        dataset={
            "type": "text.TextDataset",
            "fs_args": {"open_args_load": {"mode": "rb"}},
        },
    ).load()
    manifest = index_raw_files(
        raw,
        CLASSES,
        SOURCE_GROUPS,
        PREPROCESSING,
        {**IMAGE_INPUT, "max_image_pixels": 64 * 64 - 1},
    ).set_index("path")
    row = manifest.loc["Training/pituitary/sixteen.png"]
    assert row["status"] == "unreadable"
    assert row["reason"] == "image is 64 x 64 pixels, over the limit of 4095"
