"""The source shortcut: source groups, the shortcut audit, group metrics, the
group-robust epoch and threshold, group weights, acquisition augmentation, AdaBN."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image

from brain_tumor_mri.core.adaptation import adapt_batch_norm
from brain_tumor_mri.core.source_groups import (
    SCREENING_TIE_BREAK,
    assign_source_groups,
    screening_score,
    source_group_metrics,
)
from brain_tumor_mri.pipelines.model_training.group_robust import (
    GroupRobustValidation,
    group_balanced_weights,
)
from brain_tumor_mri.pipelines.model_training.tf_data import (
    augment,
    ramp_strength,
)
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


def test_the_first_matching_rule_names_the_group() -> None:
    table = pd.DataFrame(
        {"width": [512, 512, 256, None], "height": [512, 400, 256, None]}
    ).astype("Int64")
    rules = [
        {"name": "square_512", "match": {"width": 512, "height": 512}},
        {"name": "wide_512", "match": {"width": 512}},
    ]
    groups = assign_source_groups(table, rules, "other")
    assert groups.tolist() == ["square_512", "wide_512", "other", "other"]


def test_group_metrics_leave_out_small_cells() -> None:
    # Class 0: 30 images of group a (all right) and 3 of group b (all wrong); class 2
    # (no_tumor): 25 of group b, 20 right.
    labels = np.array([0] * 33 + [2] * 25)
    groups = np.array(["a"] * 30 + ["b"] * 3 + ["b"] * 25)
    predicted = np.array([0] * 30 + [2] * 3 + [2] * 20 + [1] * 5)
    probabilities = np.eye(4)[predicted]
    metrics = source_group_metrics(labels, probabilities, groups, NAMES, "no_tumor", 20)
    assert metrics["source_groups"]["a"] == {
        "n_samples": 30,
        "accuracy": 1.0,
        "tumours": 30,
        "tumour_sensitivity": 1.0,
    }
    assert metrics["source_groups"]["b"]["tumour_sensitivity"] == 0.0
    # The 3-image cell (glioma / b, accuracy 0) is under 20 images: not counted.
    assert metrics["worst_group_accuracy"] == pytest.approx(0.8)
    assert metrics["worst_group"] == "no_tumor / b"
    assert metrics["group_balanced_accuracy"] == pytest.approx(0.9)


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


def test_the_weakest_groups_tumour_sensitivity_leads_the_screening_score() -> None:
    # Group "a": 20 tumours, 18 found; group "b": 25 tumours, all found, and 5 healthy
    # slices; group "c": 3 tumours, none found, too few to count.
    labels = np.array([0] * 20 + [1] * 25 + [2] * 5 + [3] * 3)
    groups = np.array(["a"] * 20 + ["b"] * 30 + ["c"] * 3)
    predicted = labels.copy()
    predicted[:2] = 2
    predicted[-3:] = 2
    probabilities = np.eye(4)[predicted]
    metrics = source_group_metrics(labels, probabilities, groups, NAMES, "no_tumor", 20)
    assert metrics["min_group_tumour_sensitivity"] == pytest.approx(0.9)
    assert metrics["min_sensitivity_group"] == "a"
    score = screening_score(0.9, metrics["worst_group_accuracy"], 1.0, 0.75)
    assert score == pytest.approx(0.9 + SCREENING_TIE_BREAK * 0.9)
    # One more tumour found in the weakest group outweighs any cell accuracy.
    assert screening_score(0.95, 0.0, 1.0, 0.75) > screening_score(0.9, 1.0, 1.0, 0.75)
    # Calling everything a tumour finds every tumour and ranks below any passing model.
    assert screening_score(1.0, 0.0, 0.2, 0.75) == pytest.approx(-0.8)
    assert screening_score(1.0, 0.0, 0.2, 0.75) < screening_score(0.0, 0.0, 0.8, 0.75)
    # No group with enough tumours: no score, unless the specificity already fails.
    assert screening_score(None, 0.5, 0.9, 0.75) is None
    assert screening_score(None, 0.5, None, 0.75) is None


def test_group_weights_balance_the_cells_up_to_the_cap() -> None:
    labels = np.array([0] * 60 + [1] * 30 + [1] * 10)
    groups = np.array(["a"] * 60 + ["a"] * 30 + ["b"] * 10)
    weights = group_balanced_weights(labels, groups, cap=100)
    assert weights.mean() == pytest.approx(1)
    # Each cell carries the same total weight.
    totals = [weights[:60].sum(), weights[60:90].sum(), weights[90:].sum()]
    assert totals == pytest.approx([totals[0]] * 3)
    capped = group_balanced_weights(labels, groups, cap=2)
    assert capped[90] / capped[0] == pytest.approx(2 / (100 / (3 * 60)))


def test_early_stopping_keeps_the_best_worst_group_epoch() -> None:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (48, 8, 8, 3), dtype=np.uint8)
    labels = np.arange(48) % 4
    cache = {
        "images": images,
        "labels": labels,
        "groups": np.array(["a", "b"] * 24),
    }
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(4)]
    )
    model.compile("adam", keras.losses.CategoricalCrossentropy(from_logits=True))
    stopping = keras.callbacks.EarlyStopping(
        monitor="val_worst_group_accuracy",
        mode="max",
        patience=10,
        restore_best_weights=True,
    )
    history = model.fit(
        images.astype("float32"),
        np.eye(4)[labels],
        epochs=3,
        verbose=0,
        callbacks=[
            GroupRobustValidation(
                cache,
                NAMES,
                negative_class=NAMES[2],
                min_images=20,
                min_specificity=0.75,
                batch_size=16,
            ),
            stopping,
        ],
    )
    worst = history.history["val_worst_group_accuracy"]
    assert len(worst) == 3
    for name in (
        "min_group_tumour_sensitivity",
        "tumour_specificity",
        "screening_score",
    ):
        assert len(history.history[f"val_{name}"]) == 3, name
    assert all(0 <= w <= 1 for w in worst)
    assert stopping.best == max(worst)
    assert history.history["val_group_balanced_accuracy"][0] >= worst[0]


def test_acquisition_changes_grow_with_the_ramp() -> None:
    rng = np.random.default_rng(1)
    images = tf.constant(rng.uniform(0, 255, (4, 32, 32, 3)), tf.float32)
    seed = tf.constant([1, 2], tf.int64)
    params = {"resolution": 0.6, "sharpness": 1.0}
    untouched = augment(images, seed, params, strength=0.0)
    np.testing.assert_allclose(untouched, images, atol=0.01)
    params["jpeg_quality"] = 20
    changed = augment(images, seed, params, strength=1.0)
    assert float(tf.reduce_mean(tf.abs(changed - images))) > 5
    assert float(tf.reduce_min(changed)) >= 0
    assert float(tf.reduce_max(changed)) <= 255
    assert [float(ramp_strength(tf.constant(e), 4)) for e in range(6)] == [
        0.25,
        0.5,
        0.75,
        1.0,
        1.0,
        1.0,
    ]
    assert float(ramp_strength(tf.constant(0), None)) == 1.0


def test_adabn_sets_batch_norm_statistics_to_the_new_images() -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 3)),
            keras.layers.BatchNormalization(),
            keras.layers.Conv2D(4, 3),
            keras.layers.BatchNormalization(),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    before = [w.copy() for w in model.get_weights()]
    images = np.random.default_rng(0).uniform(100, 200, (40, 6, 6, 3))
    adapted = adapt_batch_norm(model, images, batch_size=10)
    first = adapted.layers[0]
    batches = np.split(images, 4)
    np.testing.assert_allclose(
        first.moving_mean.numpy(),
        np.mean([b.mean(axis=(0, 1, 2)) for b in batches], axis=0),
        rtol=1e-4,
    )
    np.testing.assert_allclose(
        first.moving_variance.numpy(),
        np.mean([b.var(axis=(0, 1, 2)) for b in batches], axis=0),
        rtol=1e-3,
    )
    for original, kept in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(original, kept)
    np.testing.assert_array_equal(
        adapted.layers[2].get_weights()[0], model.layers[2].get_weights()[0]
    )
    assert first.momentum == model.layers[0].momentum
