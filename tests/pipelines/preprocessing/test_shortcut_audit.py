"""The shortcut audit: a planted acquisition shortcut is flagged and a clean set is
not, the shipped data set's groups, and the acquisition metadata it reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from brain_tumor_mri.pipelines.preprocessing.nodes import (
    audit_leakage,
    audit_shortcuts,
    index_raw_files,
    split_data,
    validate_images,
)
from brain_tumor_mri.pipelines.preprocessing.shortcut_audit import (
    frame_width,
    jpeg_quality,
)
from tests.helpers.raw_folders import (
    CLASSES,
    IMAGE_INPUT,
    PREPROCESSING,
    SOURCE_GROUPS,
    encode,
    synthetic_slice,
)
from tests.pipelines.preprocessing.test_nodes import raw_partitions

NAMES = [c["name"] for c in CLASSES]
PLANTED_SIZES = dict(
    zip(NAMES, [(512, 512), (480, 480), (300, 260), (400, 400)], strict=True)
)
# Images per class in Training/ and Testing/ of the shipped data set, native 512x512
# or not (../shared/data/README.md).
SHIPPED_GROUPS = {
    ("train+val", "glioma_tumor"): (826, 0),
    ("train+val", "meningioma_tumor"): (679, 143),
    ("train+val", "no_tumor"): (5, 390),
    ("train+val", "pituitary_tumor"): (799, 28),
    ("test", "glioma_tumor"): (18, 82),
    ("test", "meningioma_tumor"): (0, 115),
    ("test", "no_tumor"): (0, 105),
    ("test", "pituitary_tumor"): (14, 60),
}


def _write_set(root: Path, planted: bool) -> Path:
    """Training/ and Testing/ of 20 images per class; with ``planted``, each class
    has a size of its own (gliomas 512x512), else every image is 256x256."""
    seed = 0
    for split in ("Training", "Testing"):
        for name in NAMES:
            folder = root / split / name
            folder.mkdir(parents=True)
            size = PLANTED_SIZES[name] if planted else (256, 256)
            for index in range(20):
                seed += 1
                gray = Image.fromarray(synthetic_slice(seed)).resize(size)
                (folder / f"{index}.jpg").write_bytes(encode(gray, "JPEG", quality=90))
    return root


def _audit(root: Path) -> tuple[dict, pd.DataFrame]:
    raw = raw_partitions(root)
    manifest = index_raw_files(raw, CLASSES, SOURCE_GROUPS, PREPROCESSING, IMAGE_INPUT)
    valid, _ = validate_images(raw, manifest, PREPROCESSING, IMAGE_INPUT)
    pairs, _ = audit_leakage(valid, PREPROCESSING)
    split = split_data(valid, pairs, CLASSES, 42, PREPROCESSING)
    audit, metrics = audit_shortcuts(split, CLASSES, 42, "no_tumor", PREPROCESSING)
    return {**audit, "mlflow": metrics}, split


def test_the_audit_flags_a_planted_shortcut_and_not_a_clean_set(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    planted, _ = _audit(_write_set(tmp_path / "planted", planted=True))
    assert planted["shortcut_suspected"]
    scores = planted["metadata_baseline"]["splits"]["val"]
    assert scores["accuracy"] >= 0.9
    assert scores["tumour_roc_auc"] == 1.0
    assert "metadata_baseline_val_accuracy" in planted["mlflow"]
    assert "Shortcut audit" in caplog.text

    caplog.clear()
    clean, split = _audit(_write_set(tmp_path / "clean", planted=False))
    assert not clean["shortcut_suspected"]
    assert "Shortcut audit" not in caplog.text
    assert set(split["source_group"]) == {"other_source"}
    scores = clean["metadata_baseline"]["splits"]["val"]
    assert scores["accuracy"] < scores["majority_accuracy"] + 0.2


@pytest.mark.slow
def test_the_audit_of_the_shipped_data_set(shared_data_dir: Path) -> None:
    audit, split = _audit(shared_data_dir)
    counts = audit["images_by_class_and_group"]
    for (where, name), (native, other) in SHIPPED_GROUPS.items():
        splits = ["train", "val"] if where == "train+val" else ["test"]
        by_group = [counts[s].get(name, {}) for s in splits]
        assert sum(g.get("512px_source", 0) for g in by_group) == native
        assert sum(g.get("other_source", 0) for g in by_group) == other
    assert audit["shortcut_suspected"]
    val = audit["metadata_baseline"]["splits"]["val"]
    assert val["tumour_roc_auc"] > 0.95
    assert val["accuracy"] > val["majority_accuracy"] + 0.2
    assert set(audit["metadata_baseline"]["splits"]) == {"val", "test", "test_dedup"}
    assert split["jpeg_quality"].notna().all()
    assert split["frame_width"].between(0, 0.5).all()


def test_jpeg_quality_and_frame_width_are_measured() -> None:
    gray = synthetic_slice(3, size=128)
    framed = np.zeros((160, 160), np.uint8)
    framed[16:144, 16:144] = np.maximum(gray, 60)
    for quality in (50, 75, 95):
        data = encode(Image.fromarray(framed), "JPEG", quality=quality)
        assert jpeg_quality(data) == pytest.approx(quality, abs=2)
    assert jpeg_quality(encode(Image.fromarray(framed), "PNG")) is None
    assert frame_width(framed) == pytest.approx(0.1, abs=0.01)
