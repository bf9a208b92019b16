"""After the quick training run, the MLflow run holds every figure, the report and metrics."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from mlflow import MlflowClient

from brain_tumor_mri.html_report import SECTIONS
from brain_tumor_mri.pipelines.evaluation.pipeline import SPLITS

CLASSES = ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor")
SPLIT_FIGURES = (
    "per_class_metrics",
    "roc_curves",
    "precision_recall_curves",
    "confusion_matrix",
    "reliability_diagram",
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
    # The final model's validation accuracy does not join Keras' per-epoch history.
    assert 0 <= metrics["val_accuracy_final"] <= 1
    history = client.get_metric_history(quick_training_run.run_id, "val_accuracy")
    assert sorted(point.step for point in history) == list(range(1, len(history) + 1))
    assert "val_roc_auc_glioma_tumor" in metrics
    assert not any(name.startswith("external_") for name in metrics)
    assert set(SPLITS) == {*EVALUATED, "external"}


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
