"""After the quick training run, the MLflow run holds every figure, the report and metrics."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient
from sklearn.metrics import log_loss

from brain_tumor_mri.core.calibration import needs_review
from brain_tumor_mri.pipelines.reporting.html_report import SECTIONS, SPLIT_ROLES

CLASSES = ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor")
SPLIT_FIGURES = (
    "per_class_metrics",
    "roc_curves",
    "precision_recall_curves",
    "confusion_matrix",
    "reliability_diagram",
    "reliability_diagram_uncalibrated",
    "risk_coverage",
    "missed_tumours",
    "misclassified",
)
EVALUATED = ("val", "test", "test_dedup")
EXPECTED_FIGURES = {
    "figures/dataset/class_counts.png",
    "figures/dataset/leakage_audit.png",
    "figures/training/training_history.png",
    *(f"figures/gradcam/{name}.png" for name in CLASSES),
    *(f"figures/{split}/{name}.png" for split in EVALUATED for name in SPLIT_FIGURES),
}
OUTPUT = "data/07_model_output"


@pytest.fixture(scope="module")
def client(quick_training_run) -> MlflowClient:
    return MlflowClient(quick_training_run.tracking_uri)


def all_artifacts(client: MlflowClient, run_id: str, path: str = "") -> dict[str, int]:
    files = {}
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            files.update(all_artifacts(client, run_id, item.path))
        else:
            files[item.path] = item.file_size
    return files


def test_every_figure_is_a_non_empty_png_in_the_run(
    client, quick_training_run, tmp_path
):
    artifacts = all_artifacts(client, quick_training_run.run_id)
    assert set(artifacts) >= EXPECTED_FIGURES, EXPECTED_FIGURES - set(artifacts)
    folder = client.download_artifacts(
        quick_training_run.run_id, "figures", str(tmp_path)
    )
    for name in EXPECTED_FIGURES:
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = struct.unpack(">II", data[16:24])
        assert width > 200 and height > 200, name
    assert folder.endswith("figures")


def test_split_prefixed_metrics_are_logged(client, quick_training_run):
    metrics = client.get_run(quick_training_run.run_id).data.metrics
    for split in EVALUATED:
        for name in ("balanced_accuracy", "macro_f1", "log_loss", "ece"):
            assert f"{split}_{name}" in metrics, f"{split}_{name}"
        for label in CLASSES:
            assert f"{split}_f1_{label}" in metrics
    assert 0 <= metrics["test_accuracy"] <= 1
    assert 0 <= metrics["test_dedup_accuracy"] <= 1
    # The plain names hold the evaluation of the model kept; the per-epoch curves
    # are epoch_<name>, and kept_epoch says which epoch the model is.
    assert 0 <= metrics["val_accuracy"] <= 1
    assert [
        p.step
        for p in client.get_metric_history(quick_training_run.run_id, "val_accuracy")
    ] == [0]
    history = client.get_metric_history(quick_training_run.run_id, "epoch_val_accuracy")
    assert sorted(point.step for point in history) == list(range(1, len(history) + 1))
    assert 1 <= metrics["kept_epoch"] <= len(history)
    assert "val_roc_auc_glioma_tumor" in metrics
    assert not any(name.startswith("external_") for name in metrics)


def test_source_group_metrics_and_the_shortcut_audit_are_logged(
    client, quick_training_run, tmp_path
):
    run_id = quick_training_run.run_id
    metrics = client.get_run(run_id).data.metrics
    # Per epoch (the epoch EarlyStopping keeps) and for the final model.
    for name in ("val_worst_group_accuracy", "val_screening_score"):
        history = client.get_metric_history(run_id, f"epoch_{name}")
        assert sorted(p.step for p in history) == list(range(1, len(history) + 1))
    # The quick profile's val cells are under source_groups.min_images (20): no
    # final worst-group figure for val, but one for test (30 images per class).
    assert "val_worst_group_accuracy" not in metrics
    assert -1 <= metrics["test_screening_score"] <= 1.01
    for name in (
        "val_accuracy_512px_source",
        "test_worst_group_accuracy",
        "test_accuracy_other_source",
        "test_tumour_sensitivity_other_source",
        "test_adapted_accuracy",
        "test_adapted_tumour_sensitivity_other_source",
        "test_dedup_adapted_accuracy",
        "test_tent_accuracy",
        "test_dedup_tent_accuracy",
        "test_dfr_accuracy",
        "test_dfr_tumour_sensitivity_other_source",
        "test_dedup_dfr_accuracy",
        "dfr_preferred",
        "metadata_baseline_val_accuracy",
        "metadata_baseline_test_tumour_roc_auc",
    ):
        assert 0 <= metrics[name] <= 1, name
    audit = json.loads(
        Path(
            client.download_artifacts(
                run_id, "metrics/shortcut_audit.json", str(tmp_path)
            )
        ).read_text()
    )
    assert set(audit["images_by_class_and_group"]) == {"train", "val", "test"}
    calibration = json.loads(
        Path(
            client.download_artifacts(run_id, "calibration.json", str(tmp_path))
        ).read_text()
    )
    assert "confidence_threshold_by_source_group" in calibration
    split = quick_training_run.project_path / "data/03_primary/data_split.csv"
    assert "source_group" in split.read_text().splitlines()[0]


def test_html_report_is_logged_with_every_section(client, quick_training_run, tmp_path):
    path = client.download_artifacts(
        quick_training_run.run_id, "report.html", str(tmp_path)
    )
    report = Path(path).read_text(encoding="utf-8")
    for key, title in SECTIONS.items():
        assert f'<section id="{key}">' in report and title in report
    assert report.count("data:image/png;base64,") >= len(EXPECTED_FIGURES)
    assert '<img src="http' not in report and "<link" not in report
    for table in (
        "evaluation_metrics.json",
        "evaluation_summary.csv",
        "evaluation_per_class.csv",
    ):
        assert (
            quick_training_run.project_path / "data/08_reporting" / table
        ).stat().st_size > 0


def test_calibration_metrics_are_logged(client, quick_training_run):
    metrics = client.get_run(quick_training_run.run_id).data.metrics
    for split in EVALUATED:
        for name in (
            "ece",
            "ece_uncalibrated",
            "log_loss_uncalibrated",
            "coverage_at_threshold",
            "tumour_sensitivity",
            "tumour_specificity",
            "missed_tumours",
        ):
            assert f"{split}_{name}" in metrics, f"{split}_{name}"
    assert metrics["temperature"] > 0
    assert 0 < metrics["confidence_threshold"] <= 1
    assert metrics["val_log_loss"] <= metrics["val_log_loss_uncalibrated"]
    # accuracy_at_threshold is logged only when some prediction is kept.
    for split in EVALUATED:
        if metrics[f"{split}_coverage_at_threshold"] > 0:
            assert 0 <= metrics[f"{split}_accuracy_at_threshold"] <= 1


def load_predictions(project: Path, name: str) -> dict[str, np.ndarray]:
    folder = project / OUTPUT / name
    return {file.stem: np.load(file) for file in folder.glob("*.npy")}


def test_temperature_lowers_validation_nll_and_keeps_every_prediction(
    client, quick_training_run, tmp_path
):
    path = client.download_artifacts(
        quick_training_run.run_id, "calibration.json", str(tmp_path)
    )
    calibration = json.loads(Path(path).read_text())
    assert calibration["fitted_on"] == "val"
    assert calibration["target_accuracy"] == 0.95
    project = quick_training_run.project_path
    val = load_predictions(project, "val_predictions")
    val_calibrated = load_predictions(project, "val_calibrated_predictions")
    labels = val["labels"]
    raw = val["probabilities"].astype(np.float64)
    raw /= raw.sum(axis=1, keepdims=True)
    before = log_loss(labels, raw, labels=range(4))
    after = log_loss(labels, val_calibrated["probabilities"], labels=range(4))
    assert after <= before + 1e-9
    assert calibration["nll_calibrated"] <= calibration["nll_uncalibrated"]
    for split in EVALUATED:
        plain = load_predictions(project, f"{split}_predictions")
        calibrated = load_predictions(project, f"{split}_calibrated_predictions")
        np.testing.assert_array_equal(
            calibrated["probabilities"].argmax(1), plain["probabilities"].argmax(1)
        )
        np.testing.assert_array_equal(calibrated["paths"], plain["paths"])
    # The threshold keeps, on validation, what it was chosen to keep.
    metrics = client.get_run(quick_training_run.run_id).data.metrics
    kept = ~needs_review(val_calibrated["probabilities"], calibration)
    assert kept.mean() == pytest.approx(metrics["val_coverage_at_threshold"])
    if calibration["target_reached"]:
        correct = val_calibrated["probabilities"].argmax(1) == labels
        assert correct[kept].mean() >= calibration["target_accuracy"]
    else:
        assert calibration["confidence_threshold"] == 1.0 and not kept.any()


def test_screening_metrics_match_a_count_of_the_test_predictions(
    client, quick_training_run
):
    metrics = client.get_run(quick_training_run.run_id).data.metrics
    test = load_predictions(
        quick_training_run.project_path, "test_calibrated_predictions"
    )
    labels, predicted = test["labels"], test["probabilities"].argmax(1)
    no_tumor = CLASSES.index("no_tumor")
    tumour = labels != no_tumor
    assert metrics["test_missed_tumours"] == int(
        (tumour & (predicted == no_tumor)).sum()
    )
    assert metrics["test_tumour_sensitivity"] == pytest.approx(
        (predicted[tumour] != no_tumor).mean()
    )
    assert metrics["test_tumour_specificity"] == pytest.approx(
        (predicted[~tumour] == no_tumor).mean()
    )
    summary = (
        quick_training_run.project_path / "data/08_reporting/evaluation_summary.csv"
    ).read_text()
    for column in ("ECE uncalibrated", "tumour sensitivity", "missed tumours"):
        assert column in summary


def test_report_says_which_split_chose_what(client, quick_training_run, tmp_path):
    path = client.download_artifacts(
        quick_training_run.run_id, "report.html", str(tmp_path)
    )
    report = Path(path).read_text(encoding="utf-8")
    assert SPLIT_ROLES in report
    assert SPLIT_ROLES.startswith(
        "temperature and review threshold fitted on the validation split (the "
        "threshold in every source group of it); model epoch chosen on validation "
        "(EarlyStopping, by default by the screening criterion, docs/accuracy.md); "
        "test and test_dedup "
        "are measured only"
    )
    for caption in (
        "test: risk-coverage curve",
        "test: missed tumours",
        "val: reliability diagram, uncalibrated",
        "val: reliability diagram, calibrated",
        "tumour sensitivity",
        "coverage at threshold",
    ):
        assert caption in report, caption


def test_bootstrap_intervals_are_in_the_json_mlflow_and_the_report(
    client, quick_training_run, tmp_path
):
    run_id = quick_training_run.run_id
    metrics = client.get_run(run_id).data.metrics
    evaluated = json.loads(
        (
            quick_training_run.project_path
            / "data/08_reporting/evaluation_metrics.json"
        ).read_text()
    )
    for split in EVALUATED:
        assert evaluated[split]["bootstrap"]["resamples"] == 1000
        intervals = evaluated[split]["confidence_intervals"]
        for name in (
            "accuracy",
            "macro_f1",
            "recall_glioma_tumor",
            "tumour_sensitivity",
            "tumour_specificity",
            "tumour_sensitivity_other_source",
            "worst_group_accuracy",
        ):
            interval = intervals[name]
            if interval["low"] is None:
                assert f"{split}_{name}_ci_low" not in metrics
                continue
            assert interval["low"] <= interval["estimate"] <= interval["high"], name
            assert metrics[f"{split}_{name}_ci_low"] == pytest.approx(interval["low"])
            assert metrics[f"{split}_{name}_ci_high"] == pytest.approx(interval["high"])
    for name in (
        "test_accuracy_ci_low",
        "test_accuracy_ci_high",
        "val_macro_f1_ci_low",
    ):
        assert 0 <= metrics[name] <= 1, name
    report = Path(
        client.download_artifacts(run_id, "report.html", str(tmp_path))
    ).read_text(encoding="utf-8")
    assert "Headline metrics with 95 % confidence intervals" in report
