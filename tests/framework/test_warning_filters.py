"""A plain ``kedro run`` logs no warning that is not the user's business."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_project

pytestmark = pytest.mark.slow

# A Python warning as Kedro logs it (py.warnings) or Python prints it.
PYTHON_WARNING = re.compile(r"\b\w*(Warning|Deprecation\w*)\b:")


def test_a_plain_kedro_run_logs_no_python_warning(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--env", "quick"]
        + ["--pipelines", "model_construction"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "Pipeline execution completed successfully" in log, log[-3000:]
    warnings = [line for line in log.splitlines() if PYTHON_WARNING.search(line)]
    assert not warnings, "\n".join(warnings)
