"""The notebook a new user opens first, executed top to bottom in a real kernel.

It runs in the project folder of the session's quick training run, with the quick
configuration (``KEDRO_ENV=quick``) and that run's MLflow store, as
``kedro jupyter lab --env quick`` would open it after ``kedro run --env quick``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from mlflow import MlflowClient
from nbclient import NotebookClient
from nbformat import NotebookNode

from tests.conftest import PROJECT_ROOT, SHARED_DATA, QuickTrainingRun

NOTEBOOK = PROJECT_ROOT / "notebooks" / "01_explore_the_data_and_latest_run.ipynb"
CLASSES = ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor")


def read_notebook(path: Path = NOTEBOOK) -> NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def cell_outputs(notebook: NotebookNode, tag: str) -> list[NotebookNode]:
    (cell,) = [
        cell
        for cell in notebook.cells
        if tag in cell.get("metadata", {}).get("tags", [])
    ]
    return cell.outputs


def text_of(outputs: list[NotebookNode]) -> str:
    parts = []
    for output in outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        for kind in ("text/plain", "text/html", "text/markdown"):
            parts.append(output.get("data", {}).get(kind, ""))
    return "\n".join(parts)


def images_in(outputs: list[NotebookNode]) -> int:
    return sum(
        any(kind.startswith("image/") for kind in output.get("data", {}))
        for output in outputs
    )


def latest_run_with_metrics(tracking_uri: str) -> str:
    client = MlflowClient(tracking_uri)
    experiments = [
        experiment.experiment_id for experiment in client.search_experiments()
    ]
    runs = client.search_runs(
        experiments,
        filter_string="attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
    )
    return next(run for run in runs if run.data.metrics).info.run_id


def gradcam_figures(
    client: MlflowClient, run_id: str, path: str | None = None
) -> list[str]:
    """The run's Grad-CAM images (artifact paths), as the notebook finds them."""
    found = []
    for entry in client.list_artifacts(run_id, path):
        if entry.is_dir:
            found += gradcam_figures(client, run_id, entry.path)
            continue
        flat = entry.path.lower().replace("_", "").replace("-", "")
        if "gradcam" in flat and flat.endswith((".png", ".jpg", ".jpeg")):
            found.append(entry.path)
    return found


def test_notebook_is_valid_and_has_no_outputs_in_git():
    notebook = read_notebook()
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert "%load_ext kedro.ipython" in code[0].source
    for cell in code:
        assert not cell.outputs and cell.execution_count is None, (
            "clear the notebook's outputs before committing it"
        )


@pytest.fixture(scope="module")
def executed(quick_training_run: QuickTrainingRun) -> NotebookNode:
    """The notebook, executed in the quick run's project; the last run that has
    metrics may be a later one in the same store, e.g. the MLflow UI test's."""
    notebooks = quick_training_run.project_path / "notebooks"
    notebooks.mkdir(exist_ok=True)
    shutil.copy2(NOTEBOOK, notebooks / NOTEBOOK.name)
    notebook = read_notebook(notebooks / NOTEBOOK.name)
    # As a user whose data set is elsewhere: its folder in the environment's globals.
    globals_file = quick_training_run.project_path / "conf" / "quick" / "globals.yml"
    globals_file.write_text(f"raw_data_dir: {SHARED_DATA}\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KEDRO_ENV", "quick")
        patch.setenv("MLFLOW_TRACKING_URI", quick_training_run.tracking_uri)
        NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(notebooks)}},
        ).execute()
    return notebook


def test_notebook_shows_sample_images_and_class_balance(executed: NotebookNode):
    assert images_in(cell_outputs(executed, "samples")) == 1
    balance = cell_outputs(executed, "class-balance")
    assert images_in(balance) == 1
    shown = text_of(balance)
    for name in (*CLASSES, "train", "val", "test", "test_dedup"):
        assert name in shown


def test_notebook_shows_the_brain_crop(executed: NotebookNode):
    outputs = cell_outputs(executed, "crop")
    assert images_in(outputs) == 1, text_of(outputs)


def test_notebook_shows_the_leakage_audit(
    executed: NotebookNode, quick_training_run: QuickTrainingRun
):
    summary = json.loads(
        (
            quick_training_run.project_path
            / "data"
            / "08_reporting"
            / "leakage_summary.json"
        ).read_text()
    )
    shown = text_of(cell_outputs(executed, "leakage"))
    leaked = summary["test_images_with_duplicate_in_train"]["total"]
    assert f"{leaked} of {summary['images']['test']['total']} test images" in shown
    assert "near pairs across splits" in shown
    assert cell_outputs(executed, "leakage-pair"), (
        "the duplicate-pair cell shows nothing"
    )


def test_notebook_shows_the_latest_run(
    executed: NotebookNode, quick_training_run: QuickTrainingRun
):
    run_id = latest_run_with_metrics(quick_training_run.tracking_uri)
    run = MlflowClient(quick_training_run.tracking_uri).get_run(run_id)
    shown = text_of(cell_outputs(executed, "latest-run"))
    assert f"Run {run_id}" in shown
    if any(name.startswith("test_") for name in run.data.metrics):
        assert "Test metrics by split" in shown
        for split in ("val", "test", "test_dedup"):
            if f"{split}_n_samples" in run.data.metrics:
                assert f"<th>{split}</th>" in shown, f"no row for {split}"
        for column in ("accuracy", "macro_f1", "precision", "recall", *CLASSES):
            assert column in shown
    else:
        assert "No test metrics in this run" in shown
    assert images_in(cell_outputs(executed, "learning-curves")) == 1

    figures = gradcam_figures(MlflowClient(quick_training_run.tracking_uri), run_id)
    gradcam = cell_outputs(executed, "gradcam")
    assert images_in(gradcam) == len(figures)
    if not figures:
        assert "No Grad-CAM figures in the latest run yet" in text_of(gradcam)
