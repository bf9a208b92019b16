"""Every figure renders with its titles and labels; the HTML report is one whole file."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from brain_tumor_mri.core.calibration_fitting import risk_coverage_curve
from brain_tumor_mri.core.gradcam import overlay_heatmap
from brain_tumor_mri.core.metrics import classification_metrics
from brain_tumor_mri.pipelines.reporting import figures as plots
from brain_tumor_mri.pipelines.reporting.html_report import SECTIONS, build_html_report

CLASSES = ["glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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
        predictions["labels"], predictions["probabilities"], CLASSES
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


def cam_example(image: np.ndarray, true: str, predicted: str) -> plots.CamExample:
    heatmap = np.outer(np.hanning(6), np.hanning(6)).astype(np.float32)
    return plots.CamExample(
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
        "training_history": lambda: plots.plot_training_history(history),
        "per_class_metrics": lambda: plots.plot_per_class_metrics(metrics, "test"),
        "roc_curves": lambda: plots.plot_roc_curves(
            labels, probabilities, CLASSES, "test"
        ),
        "pr_curves": lambda: plots.plot_precision_recall_curves(
            labels, probabilities, CLASSES, "test"
        ),
        "confusion_matrix": lambda: plots.plot_confusion_matrices(
            metrics["confusion_matrix"], CLASSES, "test"
        ),
        "reliability": lambda: plots.plot_reliability_diagram(metrics, "test"),
        "gradcam": lambda: plots.plot_gradcam_examples(
            "glioma_tumor",
            [cam_example(image, "glioma_tumor", "glioma_tumor")] * 2,
            [cam_example(image, "glioma_tumor", "no_tumor")],
            layer_name="conv5_block3_out",
        ),
        "misclassified": lambda: plots.plot_misclassified(
            predictions["images"],
            labels,
            probabilities,
            CLASSES,
            paths=predictions["paths"],
            max_images=8,
            split="test",
        ),
        "class_counts": lambda: plots.plot_class_counts(class_counts),
        "leakage_summary": lambda: plots.plot_leakage_summary(leakage_summary),
        "risk_coverage": lambda: plots.plot_risk_coverage(
            risk_coverage_curve(labels, probabilities),
            {
                "confidence_threshold": 0.6,
                "target_accuracy": 0.9,
                "coverage_at_threshold": 0.4,
                "accuracy_at_threshold": 0.9,
            },
            "val",
        ),
        "missed_tumours": lambda: plots.plot_missed_tumours(
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


def texts(figure: Figure) -> str:
    """Every title, axis label, tick label, legend entry and annotation of a figure."""
    found = [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]
    return "\n".join(t for t in found if t)


@pytest.mark.parametrize(
    "name",
    [
        "training_history",
        "per_class_metrics",
        "roc_curves",
        "pr_curves",
        "confusion_matrix",
        "reliability",
        "gradcam",
        "misclassified",
        "class_counts",
        "leakage_summary",
        "risk_coverage",
        "missed_tumours",
    ],
)
def test_figure_has_titles_labels_and_renders_to_png(figures, name) -> None:
    figure = figures[name]

    assert isinstance(figure, Figure)
    titled = [ax for ax in figure.axes if ax.get_title()]
    assert titled or figure.get_suptitle()
    labelled = [ax for ax in figure.axes if ax.get_xlabel() or ax.get_ylabel()]
    assert labelled or name in {"gradcam", "misclassified", "missed_tumours"}
    png = plots.figure_to_png(figure)
    assert png.startswith(PNG_MAGIC)
    assert len(png) > 5_000


@pytest.mark.parametrize(
    "name", ["per_class_metrics", "roc_curves", "pr_curves", "confusion_matrix"]
)
def test_class_figures_name_every_class(figures, name) -> None:
    text = texts(figures[name])
    for class_name in CLASSES:
        assert class_name in text


def test_values_are_written_on_bars_and_cells(figures, metrics) -> None:
    bars = texts(figures["per_class_metrics"])
    assert f"{metrics['per_class']['no_tumor']['recall']:.2f}" in bars
    cells = texts(figures["confusion_matrix"]).split("\n")
    assert str(metrics["confusion_matrix"][0][0]) in cells
    assert "AUC" in texts(figures["roc_curves"])
    assert "AP" in texts(figures["pr_curves"])
    assert f"{metrics['ece']:.3f}" in texts(figures["reliability"])
    assert "12" in texts(figures["class_counts"]).split("\n")


def test_curves_survive_a_class_absent_from_the_split(predictions) -> None:
    keep = predictions["labels"] != 2
    labels, probabilities = (
        predictions["labels"][keep],
        predictions["probabilities"][keep],
    )

    roc = plots.plot_roc_curves(labels, probabilities, CLASSES, "test_dedup")
    pr = plots.plot_precision_recall_curves(
        labels, probabilities, CLASSES, "test_dedup"
    )

    assert "no ROC for no_tumor" in texts(roc)
    assert plots.figure_to_png(roc).startswith(PNG_MAGIC)
    assert plots.figure_to_png(pr).startswith(PNG_MAGIC)


def test_misclassified_without_mistakes_says_so(predictions) -> None:
    one_hot = np.eye(4)[predictions["labels"]]

    figure = plots.plot_misclassified(
        predictions["images"], predictions["labels"], one_hot, CLASSES
    )

    assert "No misclassified images" in texts(figure)


def test_html_report_is_one_file_with_every_section(
    figures, metrics, history, leakage_summary, class_counts
) -> None:
    report = build_html_report(
        title="Brain tumour MRI <run>",
        run_info={"run id": "abc123", "pipeline": "training"},
        leakage_summary=leakage_summary,
        class_counts=class_counts,
        parameters={"model_training": {"epochs": 3, "note": "<script>x</script>"}},
        training_history=history,
        metrics_by_split={"val": metrics, "test": metrics},
        dataset_figures={"Images per class": figures["class_counts"]},
        training_figures={"Training history": figures["training_history"]},
        evaluation_figures={
            "test ROC curves": figures["roc_curves"],
            "test confusion matrix": plots.figure_to_png(figures["confusion_matrix"]),
        },
        gradcam_figures={"glioma_tumor": figures["gradcam"]},
        model_summary="Model: resnet50 <flat>",
    )

    for key, heading in SECTIONS.items():
        assert f'<section id="{key}">' in report
        assert f"<h2>{heading}</h2>" in report
    images = re.findall(r'<img src="([^"]*)"', report)
    assert len(images) == 5
    for source in images:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1]).startswith(PNG_MAGIC)
    assert not re.search(r"""(src|href)=["'](https?:|//|file:)""", report)
    assert "<link" not in report
    assert "<script" not in report
    assert "&lt;script&gt;x&lt;/script&gt;" in report
    assert "Brain tumour MRI &lt;run&gt;" in report
    assert "model_training.epochs" in report
    assert "macro ROC AUC" in report
    assert f"{metrics['accuracy']:.4f}" in report
    assert "exact groups spanning splits" in report


def test_loss_is_on_a_log_scale_so_a_huge_first_epoch_does_not_flatten_it() -> None:
    history = {
        "epoch": [1, 2, 3],
        "loss": [2.1, 1.2, 0.9],
        "val_loss": [104.0, 1.4, 1.1],
        "accuracy": [0.4, 0.6, 0.7],
        "val_accuracy": [0.3, 0.5, 0.6],
        "learning_rate": [1e-3, 1e-3, 3e-4],
    }

    accuracy_ax, loss_ax, _ = plots.plot_training_history(history).axes

    assert loss_ax.get_yscale() == "log"
    assert accuracy_ax.get_yscale() == "linear"
    assert "log scale" in loss_ax.get_ylabel()


def test_missed_tumours_figure_counts_tumours_predicted_negative() -> None:
    labels = np.array([0, 1, 2, 3])
    probabilities = np.array(
        [
            [0.1, 0.1, 0.7, 0.1],  # glioma predicted no_tumor: missed
            [0.1, 0.7, 0.1, 0.1],
            [0.1, 0.1, 0.7, 0.1],
            [0.1, 0.1, 0.6, 0.2],  # pituitary predicted no_tumor: missed
        ]
    )
    images = np.zeros((4, 8, 8, 3), np.uint8)

    figure = plots.plot_missed_tumours(
        images, labels, probabilities, CLASSES, "no_tumor", split="test"
    )

    assert "2 of 3" in figure.get_suptitle()
    shown = texts(figure)
    assert "true: glioma_tumor" in shown and "true: pituitary_tumor" in shown
    assert "no_tumor: 0.70" in shown


def test_most_confident_picks_the_highest_scores_of_the_mask_in_order():
    mask = np.array([True, False, True, True, True])
    scores = np.array([0.5, 0.99, 0.9, 0.5, 0.7])
    assert plots.most_confident(mask, scores, 3).tolist() == [2, 4, 0]
    assert plots.most_confident(mask, scores).tolist() == [2, 4, 0, 3]
    assert plots.most_confident(~mask & False, scores, 3).size == 0
