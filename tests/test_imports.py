"""Every module of the package imports on its own, without any other module of it.

The order in which tests import modules can hide a circular import (two modules that
each need the other to be imported first). Here one fresh interpreter imports the
third-party libraries only (TensorFlow, Kedro, MLflow, ...: the slow part), then forks
one child per module of the package; each child starts with no module of the package
imported, imports its module and reports. As exact as a fresh interpreter per module
for the package's own imports, and seconds instead of minutes.

The layer rules of docs/architecture.md are checked here too, on the source (AST):
what each layer may import, each rule also shown to fail on a small package that
breaks it.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

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


def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    """The dotted name of the module of a source file of the package."""
    parts = path.relative_to(package_dir.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, package_dir: Path = PACKAGE_DIR) -> set[str]:
    """The modules that a source file imports, at any depth; relative imports are
    resolved, and ``from a import b`` gives both ``a`` and ``a.b``."""
    tree = ast.parse(path.read_text())
    package = module_name(path, package_dir).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def within(module: str, prefix: str) -> bool:
    """Whether ``module`` is ``prefix`` or one of its submodules."""
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str, pkg: str) -> str | None:
    """The layer of the package a module is in: its first folder or module under the
    package (``core``, ``serving``, ``cli``, ...). None outside the package, and for
    the package itself and its attributes (``__version__``), which are no layer."""
    if not within(module, pkg) or module == pkg:
        return None
    name = module.split(".")[1]
    return None if name.startswith("__") else name


# A rule gets (importing module, imported module, package name) and says whether that
# import breaks it.
LayerRule = Callable[[str, str, str], bool]
KEDRO = ("kedro", "kedro_datasets", "kedro_mlflow")
PRIVATE_APIS = ("keras.src", "tensorflow.python")


def core_knows_no_kedro_mlflow_or_other_layer(importer: str, imported: str, pkg: str):
    """``core`` imports no Kedro, no MLflow and no layer of the package but itself."""
    return layer_of(importer, pkg) == "core" and (
        imported.partition(".")[0] in (*KEDRO, "mlflow")
        or layer_of(imported, pkg) not in (None, "core")
    )


def serving_imports_only_core_and_serving(importer: str, imported: str, pkg: str):
    """The served model's code imports ``core`` and ``serving`` of the package, and no
    Kedro (its requirements do not list it); MLflow is its host."""
    return layer_of(importer, pkg) == "serving" and (
        imported.partition(".")[0] in KEDRO
        or layer_of(imported, pkg) not in (None, "core", "serving")
    )


def only_the_registry_imports_pipelines(importer: str, imported: str, pkg: str):
    """Outside ``pipelines/``, only ``pipeline_registry`` names a pipeline (the
    parameter schemas are found by folder with importlib, not a static import)."""
    return layer_of(imported, pkg) == "pipelines" and layer_of(importer, pkg) not in (
        "pipelines",
        "pipeline_registry",
    )


def private_apis_only_in_compat(importer: str, imported: str, pkg: str):
    """Private modules of Keras and TensorFlow are imported in ``compat/`` only."""
    return layer_of(importer, pkg) != "compat" and any(
        within(imported, private) for private in PRIVATE_APIS
    )


LAYER_RULES: dict[str, LayerRule] = {
    rule.__name__: rule
    for rule in (
        core_knows_no_kedro_mlflow_or_other_layer,
        serving_imports_only_core_and_serving,
        only_the_registry_imports_pipelines,
        private_apis_only_in_compat,
    )
}


def layer_violations(rule: LayerRule, package_dir: Path = PACKAGE_DIR) -> list[str]:
    """Every ``module: imported module`` of the package that breaks ``rule``."""
    violations = []
    for path in sorted(package_dir.rglob("*.py")):
        importer = module_name(path, package_dir)
        for imported in sorted(imported_modules(path, package_dir)):
            if rule(importer, imported, package_dir.name):
                violations.append(f"{importer}: {imported}")
    return violations


@pytest.mark.parametrize("rule_name", LAYER_RULES)
def test_layer_rule_holds(rule_name: str):
    violations = layer_violations(LAYER_RULES[rule_name])
    assert not violations, f"{LAYER_RULES[rule_name].__doc__}\n" + "\n".join(violations)


# For each rule, a module of a small package that breaks it, and the import it makes.
# Every module of the package obeys the other rules.
TOY_MODULES = {
    "toy/__init__.py": '__version__ = "1"\n',
    "toy/core/__init__.py": "",
    "toy/core/images.py": "import numpy\nfrom . import classes\n",
    "toy/core/classes.py": "from toy import __version__\n",
    "toy/core/tracked.py": "import mlflow\n",
    "toy/core/reads_config.py": "from ..config import shared\n",
    "toy/config/__init__.py": "",
    "toy/config/shared.py": "import importlib\nimportlib.import_module('toy.pipelines')\n",
    "toy/serving/__init__.py": "",
    "toy/serving/model.py": "import mlflow\nfrom toy.core.images import load\n",
    "toy/serving/lookup.py": "from kedro.io import DataCatalog\n",
    "toy/serving/registry.py": "from toy.model_store import models\n",
    "toy/model_store/__init__.py": "",
    "toy/model_store/models.py": "import mlflow\n",
    "toy/pipelines/__init__.py": "",
    "toy/pipelines/train/__init__.py": "from .pipeline import create_pipeline\n",
    "toy/pipelines/train/pipeline.py": "from toy.pipelines.train import nodes\n",
    "toy/pipelines/train/nodes.py": "from toy.compat.keras_patches import patch\n",
    "toy/pipeline_registry.py": "from toy.pipelines.train import create_pipeline\n",
    "toy/cli.py": "def run():\n    from toy.pipelines.train.nodes import fit\n",
    "toy/compat/__init__.py": "",
    "toy/compat/keras_patches.py": "from keras.src import tree\n",
    "toy/framework/__init__.py": "",
    "toy/framework/devices.py": "from keras.src.backend.tensorflow import trainer\n",
    "toy/framework/tf.py": "from tensorflow.python.framework import ops\n",
}
TOY_VIOLATIONS = {
    "core_knows_no_kedro_mlflow_or_other_layer": [
        "toy.core.reads_config: toy.config",
        "toy.core.reads_config: toy.config.shared",
        "toy.core.tracked: mlflow",
    ],
    "serving_imports_only_core_and_serving": [
        "toy.serving.lookup: kedro.io",
        "toy.serving.lookup: kedro.io.DataCatalog",
        "toy.serving.registry: toy.model_store",
        "toy.serving.registry: toy.model_store.models",
    ],
    "only_the_registry_imports_pipelines": [
        "toy.cli: toy.pipelines.train.nodes",
        "toy.cli: toy.pipelines.train.nodes.fit",
    ],
    "private_apis_only_in_compat": [
        "toy.framework.devices: keras.src.backend.tensorflow",
        "toy.framework.devices: keras.src.backend.tensorflow.trainer",
        "toy.framework.tf: tensorflow.python.framework",
        "toy.framework.tf: tensorflow.python.framework.ops",
    ],
}


@pytest.mark.parametrize("rule_name", LAYER_RULES)
def test_layer_rule_catches_a_package_that_breaks_it(rule_name: str, tmp_path: Path):
    """The check itself: on a small package, each rule names exactly the imports
    that break it, relative and function-level ones included."""
    for relative, source in TOY_MODULES.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(source)
    violations = layer_violations(LAYER_RULES[rule_name], tmp_path / "toy")
    assert violations == TOY_VIOLATIONS[rule_name]


def test_no_pipeline_imports_a_sibling_pipeline():
    """A pipeline's package uses shared modules, never another pipeline's package
    (``training``, the chain of the others, is composed in ``pipeline_registry.py``)."""
    pipelines_dir = PACKAGE_DIR / "pipelines"
    names = {path.name for path in pipelines_dir.iterdir() if path.is_dir()} - {
        "__pycache__"
    }
    assert {"evaluation", "reporting", "model_training"} <= names
    crossings = []
    for name in sorted(names):
        for path in sorted((pipelines_dir / name).rglob("*.py")):
            for module in imported_modules(path):
                parts = module.split(".")
                if parts[:2] == ["brain_tumor_mri", "pipelines"] and parts[2:3] not in (
                    [],
                    [name],
                ):
                    crossings.append(f"{path.relative_to(PACKAGE_DIR)}: {module}")
    assert not crossings, "\n".join(crossings)
