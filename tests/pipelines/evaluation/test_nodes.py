"""The evaluation and reporting node functions on small real data, without Kedro."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import keras
import numpy as np
import pandas as pd
import pytest

from brain_tumor_mri.core.model import build_classifier
from brain_tumor_mri.datasets import OptionalPartitionedDataset
from brain_tumor_mri.pipelines.evaluation.nodes import (
    calibrate_probabilities,
    choose_review_threshold,
    collect_metrics,
    evaluate_predictions,
    fit_validation_temperature,
    load_external_test_set,
    predict_probabilities,
    record_calibration,
)
from brain_tumor_mri.pipelines.preprocessing.nodes import audit_shortcuts
from brain_tumor_mri.pipelines.reporting.html_report import SECTIONS, SPLIT_ROLES
from brain_tumor_mri.pipelines.reporting.nodes import (
    SPLIT_FIGURES,
    build_report,
    class_counts,
    dataset_figures,
    gradcam_figures,
    source_group_figures,
    split_figures,
    training_figures,
)
from tests.helpers.raw_folders import (
    IMAGE_PREPROCESSING,
    PREPROCESSING,
    SOURCE_GROUPS,
)

CLASSES = [
    {"name": "glioma_tumor", "aliases": ["glioma"]},
    {"name": "meningioma_tumor", "aliases": ["meningioma"]},
    {"name": "no_tumor", "aliases": ["notumor", "no"]},
    {"name": "pituitary_tumor", "aliases": ["pituitary"]},
]
NAMES = [c["name"] for c in CLASSES]
PARAMS = {
    "ece_bins": 10,
    "review": {"target_accuracy": 0.95},
    "screening": {"negative_class": "no_tumor"},
}
CALIBRATION = {
    "temperature": 1.5,
    "confidence_threshold": 0.3,
    "target_accuracy": 0.95,
    "target_reached": True,
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HISTORY = {
    "epoch": [1, 2],
    "loss": [1.3, 1.1],
    "accuracy": [0.4, 0.5],
    "val_loss": [1.2, 1.25],
    "val_accuracy": [0.45, 0.4],
    "learning_rate": [1e-3, 1e-3],
}
LEAKAGE = {
    "near_duplicate_max_distance": 6,
    "images": {"test": {"total": 16, "per_class": {n: 4 for n in NAMES}}},
    "exact_duplicates": {
        "groups": 1,
        "files": 2,
        "groups_across_splits": 1,
        "pairs": 1,
        "label_conflict_pairs": 0,
    },
    "near_duplicates": {
        "pairs": 2,
        "pairs_within_train": 1,
        "pairs_within_test": 0,
        "pairs_across_splits": 1,
        "label_conflict_pairs": 0,
        "pairs_by_distance": {"3": 2},
        "label_conflict_pairs_by_distance": {},
    },
    "test_images_with_duplicate_in_train": {
        "total": 1,
        "per_class": {"glioma_tumor": 1},
    },
}


def split_cache(count: int, size: int = 32, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(count, dtype=np.int64) % 4
    return {
        "images": rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8),
        "labels": labels,
        "paths": np.array(
            [f"Testing/{NAMES[k]}/{i}.jpg" for i, k in enumerate(labels)]
        ),
        "groups": np.array(["512px_source", "other_source"] * (count // 2))[:count],
    }


@pytest.fixture(scope="module")
def small_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def data_split() -> pd.DataFrame:
    rows = []
    for split, per_class in (("train", 5), ("val", 2), ("test", 4)):
        for k, name in enumerate(NAMES):
            for i in range(per_class + k):
                rows.append(
                    {
                        "path": f"{split}/{name}/{i}.jpg",
                        "split": split,
                        "label": name,
                        "label_index": k,
                        "cluster": len(rows),
                        "test_dedup": split == "test" and i > 0,
                        "source_group": "512px_source" if i % 3 else "other_source",
                    }
                )
    return pd.DataFrame(rows)


def test_predict_probabilities_in_batches_with_and_without_flip(small_model) -> None:
    cache = split_cache(10)
    expected = small_model.predict(cache["images"], verbose=0)
    mirrored = small_model.predict(cache["images"][:, :, ::-1], verbose=0)

    plain = predict_probabilities(small_model, cache, {"batch_size": 4})
    flipped = predict_probabilities(
        small_model, cache, {"batch_size": 4, "tta_flip": True}
    )

    assert plain["probabilities"].shape == (10, 4)
    assert plain["probabilities"].dtype == np.float32
    np.testing.assert_allclose(plain["probabilities"], expected, atol=1e-5)
    np.testing.assert_allclose(
        flipped["probabilities"], (expected + mirrored) / 2, atol=1e-5
    )
    np.testing.assert_allclose(flipped["probabilities"].sum(axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(plain["labels"], cache["labels"])
    np.testing.assert_array_equal(plain["paths"], cache["paths"])


def test_empty_split_gives_no_predictions_nor_metrics(small_model) -> None:
    empty = {
        "images": np.zeros((0, 32, 32, 3), np.uint8),
        "labels": np.zeros(0, np.int64),
        "paths": np.zeros(0, str),
    }

    predictions = predict_probabilities(small_model, empty, {})
    calibrated = calibrate_probabilities(predictions, CALIBRATION)

    assert predictions["probabilities"].shape == (0, 4)
    assert calibrated["probabilities"].shape == (0, 4)
    assert (
        evaluate_predictions(
            predictions, calibrated, CALIBRATION, CLASSES, SOURCE_GROUPS, PARAMS
        )
        == {}
    )


def test_collect_metrics_names_every_split(small_model) -> None:
    metrics = {}
    for i, split in enumerate(("val", "test", "test_dedup")):
        predictions = predict_probabilities(small_model, split_cache(12, seed=i), {})
        metrics[split] = evaluate_predictions(
            predictions,
            calibrate_probabilities(predictions, CALIBRATION),
            CALIBRATION,
            CLASSES,
            SOURCE_GROUPS,
            PARAMS,
        )

    evaluated, summary, per_class, confusion, mlflow_metrics = collect_metrics(
        CALIBRATION, **metrics, external={}
    )

    assert list(evaluated) == ["val", "test", "test_dedup"]
    json.dumps(evaluated, allow_nan=False)
    assert list(summary["split"]) == ["val", "test", "test_dedup"]
    assert set(per_class["split"]) == {"val", "test", "test_dedup"}
    assert per_class.columns[0] == "split"
    assert len(confusion) == 3 * 16
    assert confusion.groupby("split")["count"].sum().to_dict() == {
        "test": 12,
        "test_dedup": 12,
        "val": 12,
    }
    for name in (
        "test_accuracy",
        "test_dedup_macro_f1",
        "val_roc_auc_glioma_tumor",
        "val_ece",
        "val_ece_uncalibrated",
        "test_tumour_sensitivity",
        "test_tumour_specificity",
        "test_missed_tumours",
        "test_dedup_coverage_at_threshold",
        "temperature",
        "confidence_threshold",
    ):
        assert mlflow_metrics[name] == {
            "value": pytest.approx(mlflow_metrics[name]["value"]),
            "step": 0,
        }
    assert not any(name.startswith("external") for name in mlflow_metrics)
    assert mlflow_metrics["temperature"]["value"] == 1.5
    for column in ("ECE uncalibrated", "tumour sensitivity", "missed tumours"):
        assert summary[column].notna().all(), column


def test_calibration_nodes_fit_on_validation_and_keep_the_argmax(small_model) -> None:
    predictions = predict_probabilities(small_model, split_cache(40, seed=3), {})

    fit = fit_validation_temperature(predictions)
    calibrated = calibrate_probabilities(predictions, fit)
    threshold = choose_review_threshold(calibrated, SOURCE_GROUPS, PARAMS)
    calibration = record_calibration(fit, threshold, IMAGE_PREPROCESSING)

    assert fit["nll_after"] <= fit["nll_before"]
    np.testing.assert_array_equal(
        calibrated["probabilities"].argmax(1), predictions["probabilities"].argmax(1)
    )
    np.testing.assert_array_equal(calibrated["labels"], predictions["labels"])
    assert calibration["fitted_on"] == "val"
    assert calibration["temperature"] == fit["temperature"]
    assert calibration["image_preprocessing"] == IMAGE_PREPROCESSING
    json.dumps(calibration, allow_nan=False)
    metrics = evaluate_predictions(
        predictions, calibrated, calibration, CLASSES, SOURCE_GROUPS, PARAMS
    )
    assert metrics["log_loss"] == pytest.approx(fit["nll_after"], rel=1e-6)
    assert metrics["log_loss_uncalibrated"] == pytest.approx(
        fit["nll_before"], rel=1e-4
    )
    # A random small model is far from 95% accurate: everything is flagged.
    assert not calibration["target_reached"]
    assert metrics["coverage_at_threshold"] == 0.0


def write_png(path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((40, 50, 3), value, np.uint8))


def external_images(path: Path | None) -> dict:
    """The partitions of the catalog's ``external_test_images`` at ``path``."""
    return OptionalPartitionedDataset(
        path=None if path is None else str(path),
        dataset={
            "type": "text.TextDataset",
            "fs_args": {"open_args_load": {"mode": "rb"}},
        },
    ).load()


def test_external_test_set_uses_class_aliases(tmp_path, caplog) -> None:
    write_png(tmp_path / "glioma" / "a.png", 10)
    write_png(tmp_path / "NoTumor" / "b.png", 20)
    write_png(tmp_path / "NoTumor" / "nested" / "c.png", 30)
    write_png(tmp_path / "unknown" / "d.png", 40)
    write_png(tmp_path / "outside.png", 50)
    (tmp_path / "glioma" / "broken.jpg").write_bytes(b"not an image")

    external = load_external_test_set(
        external_images(tmp_path), CLASSES, [16, 16], IMAGE_PREPROCESSING
    )

    assert external["images"].shape == (3, 16, 16, 3)
    assert external["labels"].tolist() == [2, 2, 0]
    assert external["paths"].tolist() == [
        "NoTumor/b.png",
        "NoTumor/nested/c.png",
        "glioma/a.png",
    ]
    assert "Ignoring 'unknown'" in caplog.text
    assert "Ignoring 'outside.png'" in caplog.text
    assert "Skipping 'glioma/broken.jpg'" in caplog.text


def test_external_test_set_absent_is_empty() -> None:
    external = load_external_test_set(
        external_images(None), CLASSES, [16, 16], IMAGE_PREPROCESSING
    )

    assert external["images"].shape == (0, 16, 16, 3)
    assert external["labels"].shape == (0,)


def test_class_counts(data_split) -> None:
    counts = class_counts(data_split, CLASSES)

    assert list(counts.index) == NAMES
    assert list(counts.columns) == ["train", "val", "test", "test_dedup"]
    assert counts.loc["pituitary_tumor"].tolist() == [8, 5, 7, 6]


def test_figures_and_report(small_model, data_split) -> None:
    cache = split_cache(12)
    predictions = calibrate_probabilities(
        predict_probabilities(small_model, cache, {}), CALIBRATION
    )
    metrics = evaluate_predictions(
        predictions, predictions, CALIBRATION, CLASSES, SOURCE_GROUPS, PARAMS
    )
    flat_resnet = build_classifier((32, 32), 4, {"pooling": "avg", "dropout": 0.0})

    data_figures, data_pngs = dataset_figures(data_split, LEAKAGE, CLASSES)
    history_figures, history_pngs = training_figures(HISTORY)
    test_figures, test_pngs = split_figures(
        cache, predictions, {"test": metrics}, {}, split="test"
    )
    cams, cam_pngs = gradcam_figures(
        flat_resnet, cache, predictions, CLASSES, {"examples_per_class": 1}
    )
    group_figures, group_pngs = source_group_figures({"test": metrics})
    shortcut_audit, _ = audit_shortcuts(
        data_split.assign(
            width=512,
            height=512,
            mode="RGB",
            size_bytes=20_000,
            jpeg_quality=90.0,
            frame_width=0.1,
        ),
        CLASSES,
        42,
        "no_tumor",
        PREPROCESSING,
    )
    report = build_report(
        parameters={"classes": CLASSES, "image_size": [32, 32], "seed": 42},
        leakage_summary=LEAKAGE,
        shortcut_audit=shortcut_audit,
        source_group_pngs=group_pngs,
        data_split=data_split,
        training_history=HISTORY,
        evaluation_metrics={"test": metrics},
        calibration=CALIBRATION,
        model_summary="Model: resnet50_classifier",
        dataset_pngs=data_pngs,
        training_pngs=history_pngs,
        gradcam_pngs=cam_pngs,
        test_pngs=test_pngs,
        external_pngs={},
    )

    assert set(data_figures) == {"class_counts.png", "leakage_audit.png"}
    assert set(history_figures) == {"training_history.png"}
    assert set(test_figures) == set(SPLIT_FIGURES)
    assert set(cams) == {f"{name}.png" for name in NAMES}
    assert set(group_figures) == {"group_accuracy.png"}
    for pngs in (data_pngs, history_pngs, test_pngs, cam_pngs, group_pngs):
        assert all(png.startswith(PNG_MAGIC) for png in pngs.values())
    absent, absent_pngs = split_figures(
        cache, predictions, {"test": metrics}, {}, split="external"
    )
    assert list(absent) == ["not_evaluated.png"]
    assert absent_pngs == {}
    for key in SECTIONS:
        assert f'<section id="{key}">' in report
    images = re.findall(r'<img src="data:image/png;base64,', report)
    assert len(images) == 2 + 1 + 1 + len(SPLIT_FIGURES) + 4
    assert "Metadata-only baseline" in report
    assert "test / 512px_source" in report
    assert "worst-group accuracy" in report
    assert "test: ROC curves" in report
    assert "test: risk-coverage curve" in report
    assert "test: missed tumours" in report
    assert "test: reliability diagram, uncalibrated" in report
    assert SPLIT_ROLES in report
    assert "Grad-CAM, class glioma_tumor" in report
