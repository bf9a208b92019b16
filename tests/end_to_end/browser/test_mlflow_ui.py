"""The MLflow UI on two real quick training runs, in headless Chromium.

The first run is the session's ``quick_training_run``; the second runs the same
``training`` pipeline with another learning rate, and a run name given with
``run_name``, in its own project copy but in the same MLflow store. ``mlflow server``
then serves that store on 127.0.0.1, and the browser checks the first run's page (its
descriptive name and its data set input) and the comparison view (both runs, the
differing parameter and the metrics), and the run's per-epoch charts. Saves
``docs/images/mlflow_run.png``, ``mlflow_epoch_metrics.png`` and
``mlflow_compare.png`` for the README.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from contextlib import suppress
from pathlib import Path
from urllib.parse import quote

import pytest
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow import MlflowClient
from mlflow.entities import Run
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.conftest import QuickTrainingRun, copy_project
from tests.helpers.browser import (
    HOST,
    chromium_page,
    fit_viewport_to_content,
    free_port,
    offline_environment,
    save_screenshot,
    serve,
)

PARAMETER = "model_training.learning_rate"
SECOND_LEARNING_RATE = 5.0e-4
SECOND_RUN_NAME = "training · quick · learning rate 5e-4"
QUICK_RUN_NAME = "training · quick · random weights · 64x64 · 2 epochs"


@pytest.fixture(scope="module")
def compare_store(
    quick_training_run: QuickTrainingRun, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A copy of the quick run's MLflow store (the artifacts stay where they are): the
    second run goes there, so the tests that read the quick run's store still find
    one run and one model in it."""
    store = tmp_path_factory.mktemp("compare_store") / "mlflow.db"
    shutil.copyfile(quick_training_run.project_path / "mlflow.db", store)
    return f"sqlite:///{store}"


@pytest.fixture(scope="module")
def compared_runs(
    quick_training_run: QuickTrainingRun,
    compare_store: str,
    shared_data_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Run, Run]:
    """The quick run and a second quick run that differs in the learning rate."""
    project = copy_project(tmp_path_factory.mktemp("second_quick_run") / "project")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        patch.setenv("MLFLOW_TRACKING_URI", compare_store)
        bootstrap_project(project)
        with KedroSession.create(
            project_path=project,
            env="quick",
            runtime_params={
                "raw_data_dir": str(shared_data_dir),
                "model_training": {"learning_rate": SECOND_LEARNING_RATE},
                "run_name": SECOND_RUN_NAME,
            },
        ) as session:
            session.run(pipeline_names=["training"])
    client = MlflowClient(compare_store)
    first = client.get_run(quick_training_run.run_id)
    (second,) = client.search_runs(
        [first.info.experiment_id],
        filter_string=f"params.`{PARAMETER}` = '{SECOND_LEARNING_RATE}'",
    )
    return first, second


@pytest.fixture(scope="module")
def mlflow_ui(compare_store: str, tmp_path_factory: pytest.TempPathFactory):
    """``mlflow server`` on the runs' SQLite store, at http://127.0.0.1:<free port>."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("mlflow_server")
    command = [sys.executable, "-m", "mlflow", "server"]
    command += ["--backend-store-uri", compare_store]
    command += ["--host", HOST, "--port", str(port), "--workers", "1"]
    with serve(
        command,
        ready_url=f"http://{HOST}:{port}/health",
        cwd=workdir,
        log=workdir / "mlflow_server.log",
        env=offline_environment(),
        timeout_s=180,
    ):
        yield f"http://{HOST}:{port}"


def compare_url(base: str, runs: tuple[Run, ...]) -> str:
    ids = json.dumps([run.info.run_id for run in runs])
    experiments = json.dumps(sorted({run.info.experiment_id for run in runs}))
    return f"{base}/#/compare-runs?runs={quote(ids)}&experiments={quote(experiments)}"


def metric_names_in_table(page: Page) -> set[str]:
    """Every metric name of the comparison's metrics table, scrolled through: the
    table draws only the rows in its 300-pixel window, so it scrolls by 200 pixels
    (each row is seen in one window at least); on a busy machine a row can be drawn
    after the next scroll, so it scrolls again until a pass adds no name (at most
    four passes)."""
    names = page.evaluate(
        """async () => {
            const link = document.querySelector('a[title="Plot chart"]');
            if (!link) return [];
            const grid = link.closest('.ReactVirtualized__Grid');
            const names = new Set();
            for (let pass = 0; pass < 4; pass++) {
                const before = names.size;
                for (let top = 0; top <= grid.scrollHeight; top += 200) {
                    grid.scrollTop = top;
                    await new Promise(resolve => setTimeout(resolve, 100));
                    grid.querySelectorAll('a[title="Plot chart"]').forEach(
                        a => names.add(a.textContent.trim()));
                }
                if (pass > 0 && names.size === before) break;
            }
            grid.scrollTop = 0;
            return [...names];
        }"""
    )
    return set(names)


def close_assistant(page: Page) -> None:
    """Close the MLflow assistant's side panel, if it is open."""
    close = page.locator('[data-component-id="mlflow.assistant.chat_panel.close"]')
    with suppress(PlaywrightTimeoutError):
        close.click(timeout=5_000)


def tidy_for_screenshot(page: Page) -> None:
    """Close the assistant panel, show only the parameters that differ, fold the
    artifact browser and the run tags, wait for the parallel coordinates plot (a
    placeholder until its chart library loads) and scroll back to the top."""
    close_assistant(page)
    page.get_by_role("switch", name="Parameters - Show diff only").click()
    for section in ("Artifacts", "Tags"):
        header = page.get_by_role("button", name=section, exact=True)
        if header.get_attribute("aria-expanded") == "true":
            header.click()
    page.locator(".js-plotly-plot .parcoords").first.wait_for(timeout=90_000)
    fit_viewport_to_content(page, "main")
    page.locator("main").first.evaluate("main => main.scrollTo(0, 0)")
    page.wait_for_timeout(500)


@pytest.mark.usefixtures("chromium")
def test_mlflow_ui_compares_two_quick_runs(
    compared_runs: tuple[Run, Run], mlflow_ui: str, quick_training_run: QuickTrainingRun
):
    first, second = compared_runs
    assert (first.info.run_name, second.info.run_name) == (
        QUICK_RUN_NAME,
        SECOND_RUN_NAME,
    )
    values = [run.data.params[PARAMETER] for run in compared_runs]
    assert values[0] != values[1]
    metrics = sorted(set(first.data.metrics) | set(second.data.metrics))
    assert metrics, "the runs logged no metrics"
    bootstrap_project(quick_training_run.project_path)
    if "evaluation" in pipelines:
        assert any(name.startswith("test_") for name in metrics), (
            f"the evaluation pipeline exists but the runs have no test metrics: {metrics}"
        )

    with chromium_page(width=1400, height=1500) as page:
        page.goto(compare_url(mlflow_ui, compared_runs), wait_until="load")
        parameter_row = page.locator("tr").filter(
            has=page.locator("th", has_text=re.compile(f"^{re.escape(PARAMETER)}$"))
        )
        parameter_row.wait_for(timeout=90_000)

        assert parameter_row.locator("td").all_inner_texts() == values
        run_ids = page.locator("tr", has_text="Run ID:").inner_text()
        for run in compared_runs:
            assert run.info.run_id in run_ids
            page.get_by_text(run.info.run_name, exact=True).first.wait_for()
        shown_metrics = metric_names_in_table(page)
        assert set(metrics) <= shown_metrics, sorted(set(metrics) - shown_metrics)

        tidy_for_screenshot(page)
        save_screenshot(page, "mlflow_compare.png")


@pytest.mark.usefixtures("chromium")
def test_mlflow_ui_run_page_shows_the_run_name_and_its_data_set(
    quick_training_run: QuickTrainingRun, mlflow_ui: str
):
    run = MlflowClient(quick_training_run.tracking_uri).get_run(
        quick_training_run.run_id
    )
    assert run.info.run_name == QUICK_RUN_NAME
    (data_set,) = run.inputs.dataset_inputs
    shown = f"{data_set.dataset.name} ({data_set.dataset.digest})"

    with chromium_page(width=1400, height=1000) as page:
        page.goto(
            f"{mlflow_ui}/#/experiments/{run.info.experiment_id}/runs/"
            f"{run.info.run_id}",
            wait_until="load",
        )
        title = page.get_by_role("heading", name=QUICK_RUN_NAME)
        title.wait_for(timeout=90_000)
        page.get_by_text(shown, exact=True).wait_for(timeout=30_000)
        close_assistant(page)
        page.wait_for_timeout(500)
        save_screenshot(page, "mlflow_run.png")


@pytest.mark.usefixtures("chromium")
def test_mlflow_ui_charts_each_epoch_once(
    quick_training_run: QuickTrainingRun, mlflow_ui: str
):
    """Per-epoch metrics were logged as each epoch ended: one point per epoch, at steps
    1 and 2 of the quick profile's two epochs, and the UI charts them."""
    client = MlflowClient(quick_training_run.tracking_uri)
    run = client.get_run(quick_training_run.run_id)
    for name in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        steps = [
            point.step
            for point in client.get_metric_history(run.info.run_id, f"epoch_{name}")
        ]
        assert steps == [1, 2], (name, steps)

    with chromium_page(width=1400, height=1000) as page:
        page.goto(
            f"{mlflow_ui}/#/experiments/{run.info.experiment_id}/runs/"
            f"{run.info.run_id}/model-metrics",
            wait_until="load",
        )
        page.get_by_role("heading", name=QUICK_RUN_NAME).wait_for(timeout=90_000)
        page.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
        for title in ("epoch_accuracy", "epoch_loss"):
            page.get_by_text(title, exact=True).first.wait_for(timeout=30_000)
        close_assistant(page)
        page.wait_for_timeout(3_000)
        save_screenshot(page, "mlflow_epoch_metrics.png")
