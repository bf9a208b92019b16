"""Every parameter schema of the project, checked before a run starts.

A wrong parameter (a typo, a value out of range, a wrong type) stops ``kedro run`` at
once with one line per problem, instead of failing later inside a node. The schemas
come from three places: the shared values (``config/shared.py``), the run's own values
(below), and each pipeline's ``params.py``, whose ``SCHEMAS`` names the groups that
the pipeline owns.

This module also holds the one listing of the pipelines (``PIPELINE_NAMES``: the
folders of ``pipelines/``, as Kedro's ``find_pipelines`` finds them) and of the stages
that ``training`` chains; the pipeline registry and the report read them from here.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.resources
from pathlib import Path
from typing import Annotated, Any

import click
from pydantic import AfterValidator, Field, TypeAdapter, ValidationError

from brain_tumor_mri.config.base import StrictModel
from brain_tumor_mri.config.shared import SHARED_SCHEMAS

__all__ = [
    "PARAMETER_SCHEMAS",
    "PIPELINE_NAMES",
    "TRAINING_STAGES",
    "ParameterError",
    "StrictModel",
    "check_parameters",
    "run_groups",
]

PIPELINES_PACKAGE = "brain_tumor_mri.pipelines"
# The pipelines that start from a registered model and a folder of new images; every
# other pipeline is a stage of ``training``, the chain from raw images to the report.
OUTSIDE_TRAINING = ("inference", "site_adaptation")


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


def pipeline_names() -> list[str]:
    """The folders of ``pipelines/``, one pipeline each, as Kedro's ``find_pipelines``
    lists them (no ``__pycache__``, no hidden folder)."""
    return sorted(
        folder.name
        for folder in importlib.resources.files(PIPELINES_PACKAGE).iterdir()
        if folder.is_dir() and folder.name != "__pycache__"
        if not folder.name.startswith(".")
    )


# The one listing of the pipelines, read by the registry and the report.
PIPELINE_NAMES: tuple[str, ...] = tuple(pipeline_names())
TRAINING_STAGES: tuple[str, ...] = tuple(
    name for name in PIPELINE_NAMES if name not in OUTSIDE_TRAINING
)


def own_schemas(pipeline: str) -> dict[str, Any]:
    """The ``SCHEMAS`` of ``pipelines/<pipeline>/params.py``: the groups it owns (none
    without a ``params.py``)."""
    if not (
        importlib.resources.files(PIPELINES_PACKAGE) / pipeline / "params.py"
    ).is_file():
        return {}
    return importlib.import_module(f"{PIPELINES_PACKAGE}.{pipeline}.params").SCHEMAS


def pipeline_schemas() -> dict[str, Any]:
    """The ``SCHEMAS`` of every pipeline; a group that two pipelines claim is an
    error."""
    schemas: dict[str, Any] = {}
    for name in PIPELINE_NAMES:
        for group, schema in own_schemas(name).items():
            if group in schemas or group in SHARED_SCHEMAS or group in RUN_SCHEMAS:
                raise RuntimeError(f"Parameter group '{group}' has two schemas.")
            schemas[group] = schema
    return schemas


PIPELINE_SCHEMAS: dict[str, Any] = pipeline_schemas()
PARAMETER_SCHEMAS: dict[str, Any] = {
    **SHARED_SCHEMAS,
    **RUN_SCHEMAS,
    **PIPELINE_SCHEMAS,
}


def run_groups(pipelines: tuple[str, ...] = TRAINING_STAGES) -> tuple[str, ...]:
    """The parameter groups that a run of ``pipelines`` reads: the shared ones, then
    each pipeline's own, in the listing's order."""
    return (
        *SHARED_SCHEMAS,
        *(group for name in pipelines for group in own_schemas(name)),
    )


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
