"""Name the MLflow run of each candidate and print the table of docs/accuracy.md.

    python experiments/summarise.py --name c01_crop_64px --run-id <id>   # after a run
    python experiments/summarise.py                                     # the table
    python experiments/summarise.py --groups          # per source group (issue 16)

Every candidate's run is named after its config file in ``experiments/`` and tagged
``candidate``; the table has one row per tagged run of the ``brain_tumor_mri``
experiment, in the order they started. Model choices read the ``val`` columns only.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from mlflow import MlflowClient

EXPERIMENT = "brain_tumor_mri"
NO_TUMOR = "no_tumor"


def screening(metrics: dict, split: str) -> tuple[float, int]:
    """Tumour sensitivity and missed tumours of a split, from its confusion matrix."""
    names = metrics[split]["class_names"]
    matrix = np.asarray(metrics[split]["confusion_matrix"])
    healthy = names.index(NO_TUMOR)
    tumour = [i for i in range(len(names)) if i != healthy]
    missed = int(matrix[tumour, healthy].sum())
    return 1 - missed / matrix[tumour].sum(), missed


def row(client: MlflowClient, run) -> str:
    m = run.data.metrics
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(
            run.info.run_id, "metrics/evaluation_metrics.json", folder
        )
        metrics = json.loads(Path(path).read_text())
    sensitivity, missed = screening(metrics, "test")
    minutes = (run.info.end_time - run.info.start_time) / 60000
    cells = [
        run.data.tags["candidate"],
        f"{m.get('val_accuracy_final', float('nan')):.3f}",
        f"{m['test_accuracy']:.3f}",
        f"{m['test_dedup_accuracy']:.3f}",
        f"{m.get('test_recall_glioma_tumor', 0):.2f}",
        f"{sensitivity:.3f} ({missed})",
        f"{m.get('test_ece', float('nan')):.3f}",
        f"{minutes:.0f}",
        f"`{run.info.run_id}`",
    ]
    return "| " + " | ".join(cells) + " |"


# Columns of the source-group table: (header, MLflow metric of the run).
GROUP_COLUMNS = (
    ("val worst-group accuracy", "val_worst_group_accuracy_final"),
    ("val group-balanced accuracy", "val_group_balanced_accuracy_final"),
    ("val accuracy", "val_accuracy_final"),
    ("test accuracy", "test_accuracy"),
    ("test glioma recall", "test_recall_glioma_tumor"),
    ("test tumour sensitivity", "test_tumour_sensitivity"),
    ("512px_source", "test_tumour_sensitivity_512px_source"),
    ("other_source", "test_tumour_sensitivity_other_source"),
    ("test worst-group accuracy", "test_worst_group_accuracy"),
    ("test_dedup accuracy", "test_dedup_accuracy"),
    ("test_adapted accuracy", "test_adapted_accuracy"),
    ("test_adapted glioma recall", "test_adapted_recall_glioma_tumor"),
    ("test_adapted tumour sensitivity", "test_adapted_tumour_sensitivity"),
    ("other_source, adapted", "test_adapted_tumour_sensitivity_other_source"),
    ("test_dedup_adapted accuracy", "test_dedup_adapted_accuracy"),
)


def group_row(run) -> str:
    """One candidate's row of the source-group table, from its MLflow metrics."""
    cells = [run.data.tags.get("candidate", run.info.run_name)]
    for _, name in GROUP_COLUMNS:
        value = run.data.metrics.get(name)
        cells.append("n/a" if value is None else f"{value:.3f}")
    cells.append(f"`{run.info.run_id}`")
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", help="candidate name to give a run")
    parser.add_argument("--run-id", help="the run to name (default: the newest)")
    parser.add_argument(
        "--groups", action="store_true", help="the table per source group"
    )
    args = parser.parse_args()
    client = MlflowClient(os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"))
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if args.name:
        run_id = (
            args.run_id
            or client.search_runs(
                [experiment.experiment_id], order_by=["start_time DESC"], max_results=1
            )[0].info.run_id
        )
        client.set_tag(run_id, "candidate", args.name)
        client.set_tag(run_id, "mlflow.runName", args.name)
        return
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string="tags.candidate != '' and attributes.status = 'FINISHED'",
        order_by=["start_time ASC"],
    )
    if args.groups:
        print(
            "| candidate | "
            + " | ".join(header for header, _ in GROUP_COLUMNS)
            + " | MLflow run id |"
        )
        print("|---" * (len(GROUP_COLUMNS) + 2) + "|")
        for run in runs:
            print(group_row(run))
        return
    print(
        "| candidate | val accuracy | test accuracy | test_dedup accuracy "
        "| test glioma recall | test tumour sensitivity (missed) | test ECE "
        "| wall (min) | MLflow run id |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        print(row(client, run))


if __name__ == "__main__":
    main()
