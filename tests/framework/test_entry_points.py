"""The project's entry points stay light: ``settings.py``, ``cli.py``, the hooks and
the pipeline registry import no TensorFlow or Keras, ``kedro --help`` and ``kedro
registry list`` none either, and ``kedro run --pipelines inference`` only the nodes it
runs. The registry still holds the same pipelines.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from kedro.framework.project import configure_project, find_pipelines, pipelines
from kedro.framework.startup import bootstrap_project

from brain_tumor_mri.config.parameters import PIPELINE_NAMES, TRAINING_STAGES
from brain_tumor_mri.pipeline_registry import register_pipelines, registered_names
from tests.conftest import PROJECT_ROOT

HEAVY = ("tensorflow", "keras")
# The oracle: every folder of pipelines/ that holds a pipeline.py, read from the disk.
PIPELINE_FOLDERS = {
    path.parent.name
    for path in (PROJECT_ROOT / "src" / "brain_tumor_mri" / "pipelines").glob(
        "*/pipeline.py"
    )
}
IMPORTED_AFTER = """
import json, sys
{code}
print(json.dumps(sorted(sys.modules)))
"""


def printed_lines(code: str) -> list[str]:
    """What a fresh interpreter prints running ``code`` in the project, then the
    modules it has imported (one JSON line)."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORTED_AFTER.format(code=code)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return result.stdout.strip().splitlines()


def modules_imported_by(code: str) -> list[str]:
    """Every module that a fresh interpreter has imported after running ``code``."""
    return json.loads(printed_lines(code)[-1])


def heavy_or_nodes(modules: list[str]) -> list[str]:
    """TensorFlow and Keras modules, and the nodes and wiring of any pipeline."""
    return [
        module
        for module in modules
        if module.split(".")[0] in HEAVY
        or (
            module.startswith("brain_tumor_mri.pipelines.")
            and module.rsplit(".", 1)[-1] in ("nodes", "pipeline")
        )
    ]


def test_settings_cli_and_hooks_import_no_tensorflow():
    modules = modules_imported_by(
        "import brain_tumor_mri.settings, brain_tumor_mri.cli, "
        "brain_tumor_mri.framework.hooks"
    )
    assert "brain_tumor_mri.framework.multi_worker" in modules
    assert "brain_tumor_mri.config.parameters" in modules
    assert not heavy_or_nodes(modules)


def test_kedro_registry_list_prints_every_registered_name():
    """``kedro registry list`` (the project's, from the folders) prints the names that
    Kedro's registry holds once it has made every pipeline."""
    bootstrap_project(PROJECT_ROOT)
    assert registered_names() == sorted(PIPELINE_FOLDERS | {"__default__", "training"})
    assert registered_names() == sorted(pipelines)


def test_kedro_run_of_one_pipeline_imports_only_its_nodes():
    """What ``kedro run --pipelines inference`` does: Kedro asks the registry for it
    alone."""
    code = (
        "from pathlib import Path\n"
        "from kedro.framework.startup import bootstrap_project\n"
        "bootstrap_project(Path.cwd())\n"
        "from kedro.framework.project import pipelines\n"
        "pipelines.set_requested(['inference'])\n"
        "print(json.dumps(sorted(pipelines)))"
    )
    *_, names, modules = printed_lines(code)
    assert json.loads(names) == ["inference"]
    assert {
        module.split(".")[2]
        for module in json.loads(modules)
        if module.startswith("brain_tumor_mri.pipelines.")
        and module.rsplit(".", 1)[-1] in ("nodes", "pipeline")
    } == {"inference"}


@pytest.mark.parametrize("command", [["--help"], ["registry", "list"]])
def test_kedro_commands_that_run_no_pipeline_import_no_tensorflow(command: list[str]):
    """The real CLI (``kedro`` is ``kedro.framework.cli:main``), in the project."""
    modules = modules_imported_by(
        "from kedro.framework.cli import main\n"
        f"sys.argv = ['kedro', *{command!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code"
    )
    assert {"brain_tumor_mri.settings", "brain_tumor_mri.cli"} <= set(modules)
    assert not heavy_or_nodes(modules)


def test_every_pipeline_folder_is_registered_as_find_pipelines_finds_it():
    assert set(PIPELINE_NAMES) == PIPELINE_FOLDERS
    configure_project("brain_tumor_mri")
    found = find_pipelines(raise_errors=True)
    registered = register_pipelines()
    assert list(registered)[0] == "__default__"
    assert set(registered) == set(found) | {"training"}
    for name in PIPELINE_FOLDERS:
        assert set(registered[name].nodes) == set(found[name].nodes), name
    stages = {node for name in TRAINING_STAGES for node in found[name].nodes}
    assert set(registered["training"].nodes) == stages
    assert registered["__default__"] is registered["training"]


@pytest.mark.parametrize("name", ["training", "inference", "__default__"])
def test_a_pipeline_asked_for_by_name_is_found(name: str):
    """``kedro run --pipelines NAME`` asks Kedro's registry for NAME alone; ``training``
    is no folder but the chain of the stages."""
    bootstrap_project(PROJECT_ROOT)
    pipelines.set_requested([name])
    try:
        assert pipelines[name].nodes
    finally:
        pipelines.set_requested(None)
