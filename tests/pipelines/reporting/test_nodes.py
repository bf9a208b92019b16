"""The reporting node functions on small real data, without Kedro."""

from __future__ import annotations

import re

import keras
import pandas as pd
import pytest

from brain_tumor_mri.core.model import build_classifier
from brain_tumor_mri.pipelines.evaluation.nodes import (
    calibrate_probabilities,
    evaluate_predictions,
    predict_probabilities,
)
from brain_tumor_mri.pipelines.preprocessing.nodes import audit_shortcuts
from brain_tumor_mri.pipelines.reporting.html_report import SECTIONS, SPLIT_ROLES
from brain_tumor_mri.pipelines.reporting.nodes import (
    NOT_EVALUATED,
    SPLIT_FIGURE_CAPTIONS,
    class_counts,
    dataset_figures,
    gradcam_figures,
    run_report_html,
    source_group_figures,
    split_figures,
    training_figures,
)
from tests.helpers.predictions import (
    CALIBRATION,
    EVALUATION,
    GRADCAM,
    NAMES,
    SCREENING,
    SEED,
    SMALL_HEAD,
    split_cache,
)
from tests.helpers.predictions import small_model as build_small_model
from tests.helpers.raw_folders import CLASSES, PREPROCESSING, SOURCE_GROUPS

# The reporting group of conf/base/parameters_reporting.yml, one Grad-CAM example.
REPORTING = {
    "misclassified_examples": 16,
    "missed_tumour_examples": 16,
    "gradcam_examples_per_class": 1,
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


@pytest.fixture(scope="module")
def small_model() -> keras.Model:
    return build_small_model()


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


def test_class_counts(data_split) -> None:
    counts = class_counts(data_split, CLASSES)

    assert list(counts.index) == NAMES
    assert list(counts.columns) == ["train", "val", "test", "test_dedup"]
    assert counts.loc["pituitary_tumor"].tolist() == [8, 5, 7, 6]


def test_figures_and_report(small_model, data_split) -> None:
    cache = split_cache(12)
    predictions = calibrate_probabilities(
        predict_probabilities(small_model, cache, EVALUATION), CALIBRATION
    )
    metrics = evaluate_predictions(
        predictions,
        predictions,
        CALIBRATION,
        CLASSES,
        SOURCE_GROUPS,
        "no_tumor",
        SCREENING,
        EVALUATION,
        SEED,
    )
    flat_resnet = build_classifier((32, 32), 4, SMALL_HEAD)

    data_pngs = dataset_figures(data_split, LEAKAGE, CLASSES)
    history_pngs = training_figures(HISTORY)
    test_pngs = split_figures(
        cache, predictions, {"test": metrics}, REPORTING, split="test"
    )
    cam_pngs = gradcam_figures(
        flat_resnet,
        cache,
        predictions,
        CLASSES,
        GRADCAM,
        {**REPORTING, "gradcam_examples_per_class": 1},
    )
    group_pngs = source_group_figures({"test": metrics})
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
    absent = split_figures(
        cache, predictions, {"test": metrics}, REPORTING, split="external"
    )
    report = run_report_html(
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
        external_pngs=absent,
    )

    assert set(data_pngs) == {"class_counts.png", "leakage_audit.png"}
    assert set(history_pngs) == {"training_history.png"}
    assert set(test_pngs) == set(SPLIT_FIGURE_CAPTIONS)
    assert set(cam_pngs) == {f"{name}.png" for name in NAMES}
    assert set(group_pngs) == {"group_accuracy.png"}
    for pngs in (data_pngs, history_pngs, test_pngs, cam_pngs, group_pngs):
        assert all(png.startswith(PNG_MAGIC) for png in pngs.values())
    assert list(absent) == [NOT_EVALUATED]
    assert absent[NOT_EVALUATED].startswith(PNG_MAGIC)
    for key in SECTIONS:
        assert f'<section id="{key}">' in report
    images = re.findall(r'<img src="data:image/png;base64,', report)
    assert len(images) == 2 + 1 + 1 + len(SPLIT_FIGURE_CAPTIONS) + 4
    assert "Metadata-only baseline" in report
    assert "test / 512px_source" in report
    assert "worst-group accuracy" in report
    assert "test: ROC curves" in report
    assert "test: risk-coverage curve" in report
    assert "test: missed tumours" in report
    assert "test: reliability diagram, uncalibrated" in report
    assert SPLIT_ROLES in report
    assert "Grad-CAM, class glioma_tumor" in report
