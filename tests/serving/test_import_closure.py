"""The served model imports nothing that its logged ``requirements.txt`` does not install.

MLflow loads the served model by running ``MODEL_CODE``, which imports
``brain_tumor_mri.serving.image_classifier``; a clean environment has only what the
model's ``requirements.txt`` installs: ``REQUIREMENTS`` with the distributions they
require, and MLflow. A fresh interpreter imports ``mlflow.pyfunc`` (what MLflow loads
anyway), then the entry point; every third-party top-level module that the package's
code imports must come from a distribution that ``REQUIREMENTS`` installs, and every
one of ``REQUIREMENTS`` must be loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from functools import cache
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from brain_tumor_mri.serving.image_classifier import (
    DICOM_DECODER_PLUGINS,
    IMPORTED_REQUIREMENTS,
    MODEL_CODE,
    REQUIREMENTS,
)

ENTRY_POINT = "brain_tumor_mri.serving.image_classifier"
PACKAGE = "brain_tumor_mri"
# Imports ``mlflow.pyfunc``, then ``sys.argv[1]`` with every import statement recorded,
# and prints the top-level modules that ``mlflow.pyfunc`` loaded (``baseline``), every
# one loaded in the end (``all``), and which top-level module each top-level module's
# code imported (``imports``), whether or not it was loaded already.
REPORT_IMPORTS = """
import builtins, importlib, json, sys
import mlflow.pyfunc

baseline = {name.split(".")[0] for name in sys.modules}
imports = {}
original_import = builtins.__import__


def recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and globals:
        importer = (globals.get("__name__") or "").split(".")[0]
        imports.setdefault(importer, set()).add(name.split(".")[0])
    return original_import(name, globals, locals, fromlist, level)


builtins.__import__ = recording_import
importlib.import_module(sys.argv[1])
builtins.__import__ = original_import
print(json.dumps({
    "baseline": sorted(baseline),
    "all": sorted({name.split(".")[0] for name in sys.modules}),
    "imports": {importer: sorted(names) for importer, names in imports.items()},
}))
"""


def imports_of(module: str, extra_path: Path | None = None) -> dict[str, Any]:
    """``REPORT_IMPORTS``' report of ``module`` in a fresh interpreter."""
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(extra_path), env.get("PYTHONPATH")])
        )
    result = subprocess.run(
        [sys.executable, "-c", REPORT_IMPORTS, module],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def installed_with(distributions: Iterable[str]) -> set[str]:
    """``distributions`` and every distribution they require (no extras), as ``pip
    install`` of them would bring, canonical names."""
    pending = [canonicalize_name(name) for name in distributions]
    found: set[str] = set()
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        try:
            needs = requires(name) or []
        except PackageNotFoundError:
            continue
        for line in needs:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(canonicalize_name(requirement.name))
    return found


@cache
def _distributions_by_top_level() -> dict[str, list[str]]:
    """``packages_distributions()``, read once: each call scans every installed
    distribution's file list (seconds), and a report holds hundreds of modules."""
    return packages_distributions()


def distributions_of(top_level: str) -> set[str]:
    """The installed distributions that provide the top-level module, canonical names."""
    return {
        canonicalize_name(d) for d in _distributions_by_top_level().get(top_level, [])
    }


def unlisted_imports(report: dict[str, Any], project: set[str]) -> set[str]:
    """The third-party top-level modules that code of ``project`` (top-level names)
    imports and that neither ``REQUIREMENTS`` (with the distributions they require),
    MLflow nor ``mlflow.pyfunc`` account for.

    What a third-party library imports is that library's business: what it requires
    is installed with it, and what it imports only when present (Keras tries
    matplotlib, IPython and scikit-learn) it does without.
    """
    allowed = installed_with(REQUIREMENTS) | {"mlflow", "mlflow-skinny"}
    imported = {
        name
        for importer, names in report["imports"].items()
        if importer in project
        for name in names
    }
    return {
        name
        for name in imported - project - set(report["baseline"])
        if name not in sys.stdlib_module_names and not distributions_of(name) & allowed
    }


@pytest.fixture(scope="module")
def served_imports() -> dict[str, Any]:
    return imports_of(ENTRY_POINT)


def test_the_served_model_imports_only_its_requirements(served_imports) -> None:
    assert f"from {ENTRY_POINT} import" in MODEL_CODE
    assert unlisted_imports(served_imports, {PACKAGE}) == set()


def test_every_requirement_is_loaded(served_imports) -> None:
    loaded = {dist for name in served_imports["all"] for dist in distributions_of(name)}
    assert {canonicalize_name(name) for name in REQUIREMENTS} <= loaded
    assert REQUIREMENTS == IMPORTED_REQUIREMENTS + DICOM_DECODER_PLUGINS


def test_the_check_catches_an_unlisted_import(tmp_path: Path) -> None:
    (tmp_path / "served_with_extra.py").write_text(
        f"import {ENTRY_POINT}\n"
        "import sklearn\n"
        # The perceptual hash is preprocessing's: it needs imagehash.
        "import brain_tumor_mri.core.images.hashing\n"
    )
    imports = imports_of("served_with_extra", tmp_path)
    unlisted = unlisted_imports(imports, {PACKAGE, "served_with_extra"})
    assert unlisted == {"sklearn", "imagehash"}
