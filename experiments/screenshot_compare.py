"""Screenshot the MLflow UI's comparison of the candidates for docs/accuracy.md.

    MLFLOW_TRACKING_URI=sqlite:///mlflow.db python experiments/screenshot_compare.py

Starts ``mlflow server`` on the store at a free port of 127.0.0.1, opens the compare
view of every finished run tagged ``candidate`` in headless Chromium (Debian's
``chromium`` package, as the browser tests use) and saves
``docs/images/accuracy_candidates_compare.png``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from mlflow import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.end_to_end.browser.test_mlflow_ui import compare_url, tidy_for_screenshot  # noqa: E402
from tests.helpers.browser import (  # noqa: E402
    HOST,
    chromium_page,
    free_port,
    offline_environment,
    save_screenshot,
    serve,
)

NAME = "accuracy_candidates_compare.png"


def main() -> None:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("brain_tumor_mri")
    runs = tuple(
        client.search_runs(
            [experiment.experiment_id],
            filter_string="tags.candidate != '' and attributes.status = 'FINISHED'",
            order_by=["start_time ASC"],
        )
    )
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri]
        command += ["--host", HOST, "--port", str(port), "--workers", "1"]
        with (
            serve(
                command,
                ready_url=f"http://{HOST}:{port}/health",
                cwd=Path(folder),
                log=Path(folder) / "mlflow_server.log",
                env=offline_environment(),
                timeout_s=180,
            ),
            chromium_page() as page,
        ):
            page.goto(compare_url(f"http://{HOST}:{port}", runs), wait_until="load")
            page.get_by_text(runs[0].info.run_name).first.wait_for(timeout=90_000)
            tidy_for_screenshot(page)
            print(save_screenshot(page, NAME))


if __name__ == "__main__":
    main()
