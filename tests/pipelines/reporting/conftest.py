"""Data that the figure and report tests draw: forty predictions, their metrics, a
training history, a leakage audit, class counts, and every figure made from them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from brain_tumor_mri.core.calibration_fitting import risk_coverage_curve
from brain_tumor_mri.core.gradcam import overlay_heatmap
from brain_tumor_mri.core.metrics import classification_metrics
from brain_tumor_mri.pipelines.reporting.figures.calibration import (
    plot_reliability_diagram,
    plot_risk_coverage,
)
from brain_tumor_mri.pipelines.reporting.figures.classification import (
    plot_confusion_matrices,
    plot_per_class_metrics,
    plot_precision_recall_curves,
    plot_roc_curves,
)
from brain_tumor_mri.pipelines.reporting.figures.dataset import (
    plot_class_counts,
    plot_leakage_summary,
)
from brain_tumor_mri.pipelines.reporting.figures.gradcam import (
    CamExample,
    plot_gradcam_examples,
)
from brain_tumor_mri.pipelines.reporting.figures.mistakes import (
    plot_misclassified,
    plot_missed_tumours,
)
from brain_tumor_mri.pipelines.reporting.figures.training_curves import (
    plot_training_history,
)
from tests.helpers.figures import CLASSES


@pytest.fixture(scope="module")
def predictions() -> dict[str, np.ndarray]:
    """Forty images with probabilities that are right about three times in four."""
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 4
    logits = rng.normal(size=(40, 4))
    logits[np.arange(40), labels] += 1.5
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    images = rng.integers(0, 256, (40, 24, 24, 3), dtype=np.uint8)
    paths = np.array(
        [f"Testing/{CLASSES[k]}/image({i}).jpg" for i, k in enumerate(labels)]
    )
    return {
        "labels": labels,
        "probabilities": probabilities,
        "images": images,
        "paths": paths,
    }


@pytest.fixture(scope="module")
def metrics(predictions) -> dict:
    return classification_metrics(
        predictions["labels"], predictions["probabilities"], CLASSES, ece_bins=15
    )


@pytest.fixture(scope="module")
def history() -> dict[str, list[float]]:
    return {
        "epoch": [1, 2, 3],
        "loss": [1.2, 0.8, 0.6],
        "accuracy": [0.5, 0.7, 0.8],
        "val_loss": [1.1, 0.9, 0.95],
        "val_accuracy": [0.55, 0.65, 0.6],
        "learning_rate": [1e-3, 1e-3, 3e-4],
    }


@pytest.fixture(scope="module")
def leakage_summary() -> dict:
    return {
        "near_duplicate_max_distance": 6,
        "images": {
            "test": {"total": 8, "per_class": {"glioma_tumor": 4, "no_tumor": 4}},
            "train": {"total": 30, "per_class": {"glioma_tumor": 15, "no_tumor": 15}},
        },
        "exact_duplicates": {
            "groups": 3,
            "files": 7,
            "groups_across_splits": 1,
            "pairs": 5,
            "label_conflict_pairs": 0,
        },
        "near_duplicates": {
            "pairs": 9,
            "pairs_within_train": 6,
            "pairs_within_test": 1,
            "pairs_across_splits": 2,
            "label_conflict_pairs": 1,
            "pairs_by_distance": {"2": 4, "5": 5},
            "label_conflict_pairs_by_distance": {"5": 1},
        },
        "test_images_with_duplicate_in_train": {
            "total": 2,
            "per_class": {"glioma_tumor": 2},
        },
    }


@pytest.fixture(scope="module")
def class_counts() -> pd.DataFrame:
    return pd.DataFrame(
        {"train": [10, 12, 8, 11], "val": [3, 3, 2, 3], "test": [5, 5, 4, 6]},
        index=pd.Index(CLASSES, name="class"),
    )


def cam_example(image: np.ndarray, true: str, predicted: str) -> CamExample:
    heatmap = np.outer(np.hanning(6), np.hanning(6)).astype(np.float32)
    return CamExample(
        image=image,
        overlay=overlay_heatmap(image, heatmap, 0.4),
        true_label=true,
        predicted_label=predicted,
        probability=0.87,
        path="Testing/glioma_tumor/image(1).jpg",
    )


@pytest.fixture(scope="module")
def figures(predictions, metrics, history, leakage_summary, class_counts) -> dict:
    """Every figure function, called the way the reporting pipeline calls it."""
    labels, probabilities = predictions["labels"], predictions["probabilities"]
    image = predictions["images"][0]
    builders: dict[str, Callable[[], Figure]] = {
        "training_history": lambda: plot_training_history(history),
        "per_class_metrics": lambda: plot_per_class_metrics(metrics, "test"),
        "roc_curves": lambda: plot_roc_curves(labels, probabilities, CLASSES, "test"),
        "pr_curves": lambda: plot_precision_recall_curves(
            labels, probabilities, CLASSES, "test"
        ),
        "confusion_matrix": lambda: plot_confusion_matrices(
            metrics["confusion_matrix"], CLASSES, "test"
        ),
        "reliability": lambda: plot_reliability_diagram(metrics, "test"),
        "gradcam": lambda: plot_gradcam_examples(
            "glioma_tumor",
            [cam_example(image, "glioma_tumor", "glioma_tumor")] * 2,
            [cam_example(image, "glioma_tumor", "no_tumor")],
            layer_name="conv5_block3_out",
        ),
        "misclassified": lambda: plot_misclassified(
            predictions["images"],
            labels,
            probabilities,
            CLASSES,
            paths=predictions["paths"],
            max_images=8,
            split="test",
        ),
        "class_counts": lambda: plot_class_counts(class_counts),
        "leakage_summary": lambda: plot_leakage_summary(leakage_summary),
        "risk_coverage": lambda: plot_risk_coverage(
            risk_coverage_curve(labels, probabilities),
            {
                "confidence_threshold": 0.6,
                "target_accuracy": 0.9,
                "coverage_at_threshold": 0.4,
                "accuracy_at_threshold": 0.9,
            },
            "val",
        ),
        "missed_tumours": lambda: plot_missed_tumours(
            predictions["images"],
            labels,
            probabilities,
            CLASSES,
            "no_tumor",
            paths=predictions["paths"],
            max_images=8,
            split="test",
        ),
    }
    return {name: build() for name, build in builders.items()}
