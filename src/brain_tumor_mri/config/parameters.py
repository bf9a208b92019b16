"""Every parameter schema of the project, checked before a run starts.

A wrong parameter (a typo, a value out of range, a wrong type) stops ``kedro run`` at
once with one line per problem, instead of failing later inside a node. The schemas
come from three places: the shared values (``config/shared.py``), the run's own values
(below), and each pipeline's ``params.py``, whose ``SCHEMAS`` names the groups that
the pipeline owns. Pipelines are found by their folders, as Kedro's
``find_pipelines`` finds them.
"""

from __future__ import annotations

import difflib
import importlib
from pathlib import Path
from typing import Annotated, Any

import click
from pydantic import AfterValidator, Field, TypeAdapter, ValidationError

from brain_tumor_mri.config.base import StrictModel
from brain_tumor_mri.config.shared import SHARED_SCHEMAS

__all__ = ["PARAMETER_SCHEMAS", "ParameterError", "StrictModel", "check_parameters"]


class ParameterError(click.ClickException):
    """Parameters that do not fit their schema; ``kedro run`` prints it without a traceback."""


def _external_test_folder(path: str) -> str:
    if not Path(path).is_dir():
        raise ValueError(
            f"no folder at '{path}' (expected <folder>/<class or alias>/<images>, or "
            "no external_test_dir for no external test set)"
        )
    return path


# Values of one run, given with --params.
RUN_SCHEMAS: dict[str, Any] = {
    "raw_data_dir": str,
    # Checked by InferenceInputHook, after it deletes the previous run's outputs.
    "input_dir": Annotated[str, Field(min_length=1)],
    # Checked by SiteFolderHook.
    "site_dir": Annotated[str, Field(min_length=1)],
    "model_uri": Annotated[str, Field(min_length=1)] | None,
    "external_test_dir": Annotated[str, AfterValidator(_external_test_folder)],
    "run_name": str | None,
}


def pipeline_schemas() -> dict[str, Any]:
    """The ``SCHEMAS`` of every ``pipelines/<name>/params.py``; a group that two
    pipelines claim is an error."""
    package = importlib.import_module("brain_tumor_mri.pipelines")
    schemas: dict[str, Any] = {}
    for folder in sorted(Path(package.__file__).parent.iterdir()):
        if not (folder / "params.py").is_file():
            continue
        module = importlib.import_module(f"{package.__name__}.{folder.name}.params")
        for group, schema in module.SCHEMAS.items():
            if group in schemas or group in SHARED_SCHEMAS or group in RUN_SCHEMAS:
                raise RuntimeError(f"Parameter group '{group}' has two schemas.")
            schemas[group] = schema
    return schemas


PARAMETER_SCHEMAS: dict[str, Any] = {
    **SHARED_SCHEMAS,
    **RUN_SCHEMAS,
    **pipeline_schemas(),
}


def unknown_keys(params: dict[str, Any]) -> list[str]:
    """One line per top-level parameter that no schema knows (a misspelled group), with
    the closest valid name."""
    problems = []
    for key in sorted(set(params) - set(PARAMETER_SCHEMAS)):
        close = difflib.get_close_matches(key, PARAMETER_SCHEMAS, n=1)
        hint = f"did you mean `{close[0]}`?" if close else "no such parameter"
        problems.append(f"{key}: unknown parameter, {hint}")
    return problems


def check_parameters(params: dict[str, Any]) -> None:
    """Raise ``ParameterError`` listing every parameter that does not fit its schema,
    and every top-level key that none knows."""
    problems = unknown_keys(params)
    for key, schema in PARAMETER_SCHEMAS.items():
        if key not in params:
            continue
        try:
            TypeAdapter(schema).validate_python(params[key], strict=False)
        except ValidationError as error:
            for issue in error.errors():
                where = ".".join(str(part) for part in (key, *issue["loc"]))
                problems.append(f"{where}: {issue['msg']} (got {issue.get('input')!r})")
    classes = params.get("classes") or []
    names = [entry.get("name") for entry in classes if isinstance(entry, dict)]
    if len(set(names)) != len(names):
        problems.append(f"classes: names must be unique (got {names})")
    negative = params.get("negative_class")
    if names and isinstance(negative, str) and negative not in names:
        problems.append(
            f"negative_class: '{negative}' is not a class (classes: {names})"
        )
    if problems:
        raise ParameterError(
            "Invalid parameters in conf/ or --params:\n  - "
            + "\n  - ".join(problems)
            + "\nEach parameter is described in the comments of conf/base/parameters*.yml."
        )
