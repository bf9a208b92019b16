"""What the benchmarks share: where the project and the data are, a throw-away copy of
the project, and the small classifier head they time."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "brain_tumor_mri"
# Global average pooling straight into the softmax: the head adds no timing of note.
SMALL_HEAD = {
    "pooling": "avg",
    "hidden_units": [],
    "activation": "relu",
    "batch_norm": False,
    "dropout": 0.3,
}


def project_copy(prefix: str, checkout: Path = ROOT) -> Path:
    """A copy of ``checkout`` (its configuration and code; this project by default) in
    a new temporary folder."""
    project = Path(tempfile.mkdtemp(prefix=prefix))
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy2(checkout / name, project / name)
    for name in ("conf", "src"):
        shutil.copytree(
            checkout / name,
            project / name,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    return project
