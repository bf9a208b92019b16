"""Nodes of the reporting pipeline: figures of the run, Grad-CAM, and the HTML report.

Each figure node renders its figures once, to ``{file name: PNG bytes}``: the catalog
writes those bytes under ``data/08_reporting/figures/`` and logs them to the run
(``datasets.PngFilesDataset``), and the report node embeds the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from brain_tumor_mri import __version__
from brain_tumor_mri.config.base import typed_params
from brain_tumor_mri.config.shared import GradcamParams
from brain_tumor_mri.core.calibration_fitting import risk_coverage_curve
from brain_tumor_mri.core.classes import class_names
from brain_tumor_mri.core.gradcam import make_gradcam_heatmaps, overlay_heatmap
from brain_tumor_mri.core.splits import CACHED_SPLITS
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
from brain_tumor_mri.pipelines.reporting.figures.common import (
    figure_to_png,
    most_confident,
    plot_message,
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
from brain_tumor_mri.pipelines.reporting.figures.source_groups import (
    plot_group_accuracy,
)
from brain_tumor_mri.pipelines.reporting.figures.training_curves import (
    plot_training_history,
)
from brain_tumor_mri.pipelines.reporting.html_report import render_html_report
from brain_tumor_mri.pipelines.reporting.params import ReportingParams

Figures = dict[str, Figure]
Pngs = dict[str, bytes]

SPLIT_FIGURE_CAPTIONS = {
    "per_class_metrics.png": "per-class precision, recall and F1",
    "roc_curves.png": "ROC curves",
    "precision_recall_curves.png": "precision-recall curves",
    "confusion_matrix.png": "confusion matrix",
    "reliability_diagram.png": "reliability diagram, calibrated",
    "reliability_diagram_uncalibrated.png": "reliability diagram, uncalibrated",
    "risk_coverage.png": "risk-coverage curve",
    "missed_tumours.png": "missed tumours",
    "misclassified.png": "misclassified images",
}


# The one figure of a split that was not evaluated: logged, not shown in the report.
NOT_EVALUATED = "not_evaluated.png"


def _rendered(figures: Figures) -> Pngs:
    """Each figure as PNG bytes, rendered once: the catalog writes and logs these
    bytes, and the report embeds them."""
    return {name: figure_to_png(figure) for name, figure in figures.items()}


def class_counts(
    data_split: pd.DataFrame, classes: Sequence[Mapping[str, Any]]
) -> pd.DataFrame:
    """Images per class (rows, in class order) and split (train, val, test, test_dedup)."""
    names = class_names(classes)
    counts = pd.crosstab(data_split["label"], data_split["split"])
    counts = counts.reindex(index=names, columns=list(CACHED_SPLITS), fill_value=0)
    dedup = data_split[data_split["test_dedup"].astype(bool)]
    counts["test_dedup"] = dedup["label"].value_counts().reindex(names, fill_value=0)
    counts.index.name = "class"
    counts.columns.name = None
    return counts.astype(int)


def class_group_counts(
    data_split: pd.DataFrame, classes: Sequence[Mapping[str, Any]]
) -> pd.DataFrame:
    """Images per class (rows) and split x source group (columns)."""
    counts = pd.crosstab(
        data_split["label"], [data_split["split"], data_split["source_group"]]
    )
    splits = [s for s in CACHED_SPLITS if s in counts.columns.get_level_values(0)]
    counts = counts.reindex(index=class_names(classes), fill_value=0)[splits]
    counts.columns = [f"{split} / {group}" for split, group in counts.columns]
    counts.index.name = "class"
    return counts.astype(int)


def dataset_figures(
    data_split: pd.DataFrame,
    leakage_summary: Mapping[str, Any],
    classes: Sequence[Mapping[str, Any]],
) -> Pngs:
    """Class counts per split, and the leakage audit's summary."""
    return _rendered(
        {
            "class_counts.png": plot_class_counts(class_counts(data_split, classes)),
            "leakage_audit.png": plot_leakage_summary(leakage_summary),
        }
    )


def source_group_figures(
    evaluation_metrics: Mapping[str, Mapping[str, Any]],
) -> Pngs:
    """Accuracy and tumour sensitivity by split and source group."""
    return _rendered({"group_accuracy.png": plot_group_accuracy(evaluation_metrics)})


def training_figures(
    training_history: Mapping[str, Sequence[float]],
) -> Pngs:
    """Accuracy, loss and learning rate per epoch."""
    return _rendered({"training_history.png": plot_training_history(training_history)})


@typed_params
def split_figures(
    split_cache: Mapping[str, np.ndarray],
    calibrated_predictions: Mapping[str, np.ndarray],
    evaluation_metrics: Mapping[str, Mapping[str, Any]],
    params: ReportingParams,
    *,
    split: str,
) -> Pngs:
    """The figures of one split (see ``SPLIT_FIGURE_CAPTIONS``), from its
    ``calibrated_predictions``; the reliability diagram is drawn before and after
    calibration.

    A split that was not evaluated (an empty one, such as an absent external test set)
    gets one figure that says so (``NOT_EVALUATED``), because an artifact dataset
    cannot log an empty folder; the report leaves it out. Wire it per split with
    ``partial(split_figures, split=...)``.
    """
    metrics = evaluation_metrics.get(split)
    if not metrics:
        return _rendered(
            {
                NOT_EVALUATED: plot_message(
                    f"Split '{split}' was not evaluated: it holds no images."
                )
            }
        )
    return _rendered(
        {
            **_score_figures(calibrated_predictions, metrics, split),
            **_calibration_figures(calibrated_predictions, metrics, split),
            **_mistake_figures(
                split_cache, calibrated_predictions, metrics, params, split
            ),
        }
    )


def _score_figures(
    calibrated: Mapping[str, np.ndarray], metrics: Mapping[str, Any], split: str
) -> Figures:
    """Per-class scores, ROC and precision-recall curves, confusion matrix."""
    labels, probabilities = calibrated["labels"], calibrated["probabilities"]
    names = metrics["class_names"]
    return {
        "per_class_metrics.png": plot_per_class_metrics(metrics, split),
        "roc_curves.png": plot_roc_curves(labels, probabilities, names, split),
        "precision_recall_curves.png": plot_precision_recall_curves(
            labels, probabilities, names, split
        ),
        "confusion_matrix.png": plot_confusion_matrices(
            metrics["confusion_matrix"], names, split
        ),
    }


def _calibration_figures(
    calibrated: Mapping[str, np.ndarray], metrics: Mapping[str, Any], split: str
) -> Figures:
    """Reliability diagrams after and before calibration, and the risk-coverage curve."""
    return {
        "reliability_diagram.png": plot_reliability_diagram(
            metrics, split, f"calibrated (T={metrics['temperature']:.3g})"
        ),
        "reliability_diagram_uncalibrated.png": plot_reliability_diagram(
            {
                "reliability": metrics["reliability_uncalibrated"],
                "ece": metrics["ece_uncalibrated"],
            },
            split,
            "uncalibrated",
        ),
        "risk_coverage.png": plot_risk_coverage(
            risk_coverage_curve(calibrated["labels"], calibrated["probabilities"]),
            metrics,
            split,
        ),
    }


def _mistake_figures(
    split_cache: Mapping[str, np.ndarray],
    calibrated: Mapping[str, np.ndarray],
    metrics: Mapping[str, Any],
    params: ReportingParams,
    split: str,
) -> Figures:
    """The most confident missed tumours and misclassified images."""
    labels, probabilities = calibrated["labels"], calibrated["probabilities"]
    names = metrics["class_names"]
    return {
        "missed_tumours.png": plot_missed_tumours(
            split_cache["images"],
            labels,
            probabilities,
            names,
            metrics["negative_class"],
            paths=calibrated["paths"],
            max_images=params.missed_tumour_examples,
            split=split,
        ),
        "misclassified.png": plot_misclassified(
            split_cache["images"],
            labels,
            probabilities,
            names,
            paths=calibrated["paths"],
            max_images=params.misclassified_examples,
            split=split,
        ),
    }


@typed_params
def gradcam_figures(  # noqa: PLR0917 (Kedro passes node inputs positionally)
    model: keras.Model,
    test_cache: Mapping[str, np.ndarray],
    test_calibrated_predictions: Mapping[str, np.ndarray],
    classes: Sequence[Mapping[str, Any]],
    gradcam: GradcamParams,
    params: ReportingParams,
) -> Pngs:
    """For each class, its most confidently right and wrong test images beside their
    Grad-CAM overlay for the predicted class; one figure per class."""
    names = class_names(classes)
    labels = np.asarray(test_calibrated_predictions["labels"])
    probabilities = np.asarray(test_calibrated_predictions["probabilities"])
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    count = params.gradcam_examples_per_class
    chosen = {
        k: (
            most_confident((labels == k) & (predicted == k), confidence, count),
            most_confident((labels == k) & (predicted != k), confidence, count),
        )
        for k in range(len(names))
    }
    indices = np.unique(np.concatenate([i for pair in chosen.values() for i in pair]))
    examples = _cam_examples(
        model,
        test_cache,
        test_calibrated_predictions,
        indices,
        names=names,
        params=gradcam,
    )
    return _rendered(
        {
            f"{name}.png": plot_gradcam_examples(
                name,
                [examples[i] for i in chosen[k][0]],
                [examples[i] for i in chosen[k][1]],
                layer_name=gradcam.layer,
            )
            for k, name in enumerate(names)
        }
    )


def _cam_examples(
    model: keras.Model,
    test_cache: Mapping[str, np.ndarray],
    calibrated: Mapping[str, np.ndarray],
    indices: np.ndarray,
    *,
    names: Sequence[str],
    params: GradcamParams,
) -> dict[int, CamExample]:
    """The test images at ``indices``, each with its Grad-CAM overlay for the
    predicted class, by index."""
    if not indices.size:
        return {}
    probabilities = np.asarray(calibrated["probabilities"])
    predicted = probabilities.argmax(axis=1)
    images = np.asarray(test_cache["images"][indices])
    heatmaps = make_gradcam_heatmaps(
        model, images, predicted[indices], params.layer, params.batch_size
    )
    return {
        int(index): CamExample(
            image=image,
            overlay=overlay_heatmap(image, heatmap, params.alpha),
            true_label=names[calibrated["labels"][index]],
            predicted_label=names[predicted[index]],
            probability=float(probabilities[index].max()),
            path=str(calibrated["paths"][index]),
        )
        for index, image, heatmap in zip(indices, images, heatmaps, strict=True)
    }


def _captioned(
    pngs: Mapping[str, bytes], prefix: str = "", readable: bool = True
) -> dict[str, bytes]:
    """PNGs keyed by a caption made from the file name: ``roc_curves.png`` gives
    ``ROC curves``, ``class_counts.png`` ``class counts`` (``class_counts`` if not
    ``readable``)."""
    captioned = {}
    for name, png in pngs.items():
        stem = name.removesuffix(".png")
        caption = SPLIT_FIGURE_CAPTIONS.get(
            name, stem.replace("_", " ") if readable else stem
        )
        captioned[f"{prefix}{caption}"] = png
    return captioned


def collect_report_parameters(**groups: Any) -> dict[str, Any]:
    """The parameter groups shown in the report, as one dict keyed by group name."""
    return dict(groups)


def run_report_html(
    *,
    parameters: Mapping[str, Any],
    leakage_summary: Mapping[str, Any],
    shortcut_audit: Mapping[str, Any],
    data_split: pd.DataFrame,
    training_history: Mapping[str, Sequence[float]],
    evaluation_metrics: Mapping[str, Mapping[str, Any]],
    calibration: Mapping[str, Any],
    model_summary: str,
    dataset_pngs: Pngs,
    training_pngs: Pngs,
    source_group_pngs: Pngs,
    gradcam_pngs: Pngs,
    **split_pngs: Pngs,
) -> str:
    """The self-contained HTML report; ``split_pngs`` are keyed ``<split>_pngs``.

    Keyword-only: wire it with a dict of inputs, ``{"test_pngs": "test_figures"}``.
    """
    evaluation = {}
    for key, pngs in split_pngs.items():
        shown = {name: png for name, png in pngs.items() if name != NOT_EVALUATED}
        evaluation.update(_captioned(shown, f"{key.removesuffix('_pngs')}: "))
    return render_html_report(
        title="Brain tumour MRI classification — run report",
        run_info={
            "package version": __version__,
            "classes": ", ".join(class_names(parameters["classes"])),
            "image size": "x".join(str(s) for s in parameters["image_size"]),
            "evaluated splits": ", ".join(evaluation_metrics),
        },
        leakage_summary=leakage_summary,
        shortcut_audit=shortcut_audit,
        group_counts=class_group_counts(data_split, parameters["classes"]),
        source_group_figures=_captioned(source_group_pngs),
        class_counts=class_counts(data_split, parameters["classes"]),
        parameters=parameters,
        training_history=training_history,
        metrics_by_split=evaluation_metrics,
        calibration=calibration,
        dataset_figures=_captioned(dataset_pngs),
        training_figures=_captioned(training_pngs),
        evaluation_figures=evaluation,
        gradcam_figures=_captioned(gradcam_pngs, "Grad-CAM, class ", readable=False),
        model_summary=model_summary,
    )
