"""The HTML report is one whole file: every section, figures embedded, text escaped."""

from __future__ import annotations

import base64
import re

import numpy as np

from brain_tumor_mri.core.bootstrap import headline_intervals
from brain_tumor_mri.pipelines.reporting.figures.common import figure_to_png
from brain_tumor_mri.pipelines.reporting.html_report import SECTIONS, render_html_report
from tests.helpers.figures import CLASSES, PNG_MAGIC


def test_html_report_is_one_file_with_every_section(
    figures, metrics, history, leakage_summary, class_counts
) -> None:
    report = render_html_report(
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
            "test confusion matrix": figure_to_png(figures["confusion_matrix"]),
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


def test_html_report_shows_the_bootstrap_intervals(
    predictions, metrics, history, leakage_summary, class_counts
) -> None:
    groups = np.array(["512px_source", "other_source"] * 20)
    intervals = headline_intervals(
        predictions["labels"],
        predictions["probabilities"],
        groups,
        CLASSES,
        "no_tumor",
        5,
        300,
        0.95,
        42,
    )
    with_intervals = {
        **metrics,
        "bootstrap": {"resamples": 300, "confidence": 0.95, "seed": 42},
        "confidence_intervals": intervals,
    }

    report = render_html_report(
        title="run",
        run_info={},
        leakage_summary=leakage_summary,
        class_counts=class_counts,
        parameters={},
        training_history=history,
        metrics_by_split={"test": with_intervals, "val": metrics},
        dataset_figures={},
        training_figures={},
        evaluation_figures={},
        gradcam_figures={},
    )

    accuracy = intervals["accuracy"]
    assert (
        f"<td>{accuracy['estimate']:.4f} "
        f"({accuracy['low']:.4f}–{accuracy['high']:.4f})</td>" in report
    )
    assert "Headline metrics with 95 % confidence intervals" in report
    assert "300 resamples, seed 42" in report
    for name in ("macro_f1", "recall_glioma_tumor", "tumour_sensitivity_other_source"):
        assert f"<th>{name}</th>" in report
    # The split without intervals shows its plain values.
    assert f"<td>{metrics['accuracy']:.4f}</td>" in report
