"""Every module of the package imports on its own, without any other module of it.

The order in which tests import modules can hide a circular import (two modules that
each need the other to be imported first). Here one fresh interpreter imports the
third-party libraries only (TensorFlow, Kedro, MLflow, ...: the slow part), then forks
one child per module of the package; each child starts with no module of the package
imported, imports its module and reports. As exact as a fresh interpreter per module
for the package's own imports, and seconds instead of minutes.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import brain_tumor_mri

PACKAGE_DIR = Path(brain_tumor_mri.__file__).parent
THIRD_PARTY = (
    "tensorflow",
    "keras",
    "kedro",
    "kedro_datasets",
    "kedro_mlflow",
    "mlflow",
    "pandas",
    "cv2",
    "sklearn",
    "matplotlib",
    "pydantic",
    "PIL",
    "imagehash",
)
IMPORT_EACH_IN_A_FORK = """
import importlib, json, os, sys, traceback
for name in {third_party!r}:
    importlib.import_module(name)
assert not [m for m in sys.modules if m.split(".")[0] == "brain_tumor_mri"]
failures = {{}}
for module in {modules!r}:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(module)
            message = ""
        except BaseException:
            message = traceback.format_exc().strip().splitlines()[-1]
        os.write(write, message.encode() or b"ok")
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    if message != "ok":
        failures[module] = message or "the child died"
print(json.dumps(failures))
"""


def package_modules() -> list[str]:
    """The dotted name of every module of the package, from its files."""
    modules = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules.append(".".join(parts))
    return modules


def test_every_module_imports_without_the_rest_of_the_package():
    modules = package_modules()
    assert "brain_tumor_mri.config.shared" in modules
    assert "brain_tumor_mri.pipelines.inference.nodes" in modules
    script = IMPORT_EACH_IN_A_FORK.format(third_party=THIRD_PARTY, modules=modules)
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    failures = json.loads(result.stdout.strip().splitlines()[-1])
    assert not failures, "\n".join(f"{m}: {e}" for m, e in failures.items())


def test_a_circular_import_is_caught(tmp_path: Path):
    """The check itself: two modules that import each other fail in the child."""
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic.b import B\nA = 1\n")
    (package / "b.py").write_text("from cyclic.a import A\nB = 2\n")
    script = IMPORT_EACH_IN_A_FORK.format(third_party=(), modules=["cyclic.a"])
    script = f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + script
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    failures = json.loads(result.stdout.strip().splitlines()[-1])
    assert "partially initialized module" in failures["cyclic.a"]


def imported_modules(path: Path) -> set[str]:
    """The modules that a source file imports (absolute imports, at any depth)."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_pipeline_imports_a_sibling_pipeline():
    """A pipeline's package uses shared modules, never another pipeline's package;
    only ``training``, which chains the others, names them."""
    pipelines_dir = PACKAGE_DIR / "pipelines"
    names = {path.name for path in pipelines_dir.iterdir() if path.is_dir()} - {
        "__pycache__"
    }
    assert {"evaluation", "reporting", "model_training"} <= names
    crossings = []
    for name in sorted(names - {"training"}):
        for path in sorted((pipelines_dir / name).rglob("*.py")):
            for module in imported_modules(path):
                parts = module.split(".")
                if parts[:2] == ["brain_tumor_mri", "pipelines"] and parts[2:3] not in (
                    [],
                    [name],
                ):
                    crossings.append(f"{path.relative_to(PACKAGE_DIR)}: {module}")
    assert not crossings, "\n".join(crossings)
