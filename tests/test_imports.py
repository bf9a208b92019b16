"""Every module of the package imports on its own, in a fresh interpreter.

The order in which tests import modules can hide a circular import (two modules that
each need the other to be imported first); a fresh interpreter per module cannot.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import brain_tumor_mri

PACKAGE_DIR = Path(brain_tumor_mri.__file__).parent


def package_modules() -> list[str]:
    """The dotted name of every module of the package, from its files."""
    modules = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules.append(".".join(parts))
    return modules


def _import_alone(module: str) -> tuple[str, int, str]:
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return module, result.returncode, result.stderr


def test_every_module_imports_in_a_fresh_interpreter():
    modules = package_modules()
    assert "brain_tumor_mri.model_parameters" in modules
    assert "brain_tumor_mri.pipelines.inference.nodes" in modules
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        results = list(pool.map(_import_alone, modules))
    failures = [
        f"{module}:\n{stderr.strip().splitlines()[-1] if stderr.strip() else rc}"
        for module, rc, stderr in results
        if rc != 0
    ]
    assert not failures, "\n".join(failures)
