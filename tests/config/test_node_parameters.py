"""Nodes read their parameters from validated schema objects, and only their own.

Every default lives in ``conf/`` and its schema: a node that reads a raw dict with
``.get("key", default)`` keeps a second default that can silently disagree, and a node
that reads another pipeline's group couples two pipelines' configurations.
"""

from __future__ import annotations

import ast
import functools
import inspect
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from kedro.framework.startup import bootstrap_project
from kedro.pipeline import Pipeline
from pydantic import BaseModel

import brain_tumor_mri.pipelines as pipelines_package
from brain_tumor_mri.config.parameters import (
    PIPELINE_NAMES,
    PIPELINE_SCHEMAS,
    RUN_SCHEMAS,
    own_schemas,
)
from brain_tumor_mri.config.shared import SHARED_SCHEMAS
from brain_tumor_mri.pipeline_registry import register_pipelines
from brain_tumor_mri.pipelines.reporting.pipeline import REPORTED_PARAMETERS
from tests.conftest import PROJECT_ROOT

PIPELINES_DIR = Path(pipelines_package.__file__).parent
COMMON_GROUPS = set(SHARED_SCHEMAS) | set(RUN_SCHEMAS)
# The report shows the run's parameters: this node passes every group on to the
# HTML page as it is, and no value of them changes what any node computes.
DISPLAY_ONLY = {
    ("collect_report_parameters", f"params:{group}") for group in REPORTED_PARAMETERS
}


@functools.cache
def project_pipelines() -> dict[str, Pipeline]:
    bootstrap_project(PROJECT_ROOT)
    return register_pipelines()


def parameter_inputs(pipeline: str) -> list[tuple[str, str, Any]]:
    """(node name, ``params:`` input, the annotation of the argument it fills)."""
    found = []
    for node in project_pipelines()[pipeline].nodes:
        func = inspect.unwrap(node.func)
        hints = typing.get_type_hints(func)
        arguments = list(inspect.signature(func).parameters)
        inputs = node._inputs
        bound = (
            inputs.items()
            if isinstance(inputs, dict)
            else zip(
                arguments, [inputs] if isinstance(inputs, str) else inputs, strict=False
            )
        )
        for argument, dataset in bound:
            if dataset.startswith("params:"):
                found.append((node.name, dataset, hints.get(argument)))
    return found


@pytest.mark.parametrize("pipeline", PIPELINE_NAMES)
def test_a_pipeline_reads_only_its_own_and_the_shared_parameters(pipeline: str):
    allowed = set(own_schemas(pipeline)) | COMMON_GROUPS
    foreign = [
        f"{node}: {dataset}"
        for node, dataset, _ in parameter_inputs(pipeline)
        if dataset.removeprefix("params:").split(".")[0] not in allowed
        and (node, dataset) not in DISPLAY_ONLY
    ]
    assert not foreign, "\n".join(foreign)


def _is_raw_mapping(annotation: Any) -> bool:
    origins = {typing.get_origin(annotation) or annotation}
    origins |= {typing.get_origin(a) or a for a in typing.get_args(annotation)}
    return any(
        origin in (dict, Mapping, typing.Any)
        or (isinstance(origin, type) and issubclass(origin, Mapping))
        for origin in origins
    )


@pytest.mark.parametrize("pipeline", PIPELINE_NAMES)
def test_a_parameter_group_reaches_its_node_as_a_schema_object(pipeline: str):
    """The pipeline's own groups (``params:evaluation``, ``params:evaluation.review``)
    reach their nodes typed with their schema, never as a dict. The shared values
    (``classes``, ``image_preprocessing``) go on to the core, which takes plain data."""
    own = set(own_schemas(pipeline))
    raw = [
        f"{node}: {dataset} is annotated {annotation!r}"
        for node, dataset, annotation in parameter_inputs(pipeline)
        if dataset.removeprefix("params:").split(".")[0] in own
        and (annotation is None or _is_raw_mapping(annotation))
        and (node, dataset) not in DISPLAY_ONLY
    ]
    assert not raw, "\n".join(raw)


# The shared groups that have a schema of their own (a StrictModel, not a plain value).
SHARED_MODEL_GROUPS = {
    group
    for group, schema in SHARED_SCHEMAS.items()
    if isinstance(schema, type) and issubclass(schema, BaseModel)
}


@pytest.mark.parametrize("pipeline", PIPELINE_NAMES)
def test_a_node_takes_whole_groups_typed_with_their_schema(pipeline: str):
    """``params:image_input``, never ``params:image_input.image_formats``; and a shared
    group with a schema (``gradcam``, ``image_input``, ...) reaches its node as that
    schema, as the pipeline's own do."""
    wrong = [
        f"{node}: {dataset} ({annotation!r})"
        for node, dataset, annotation in parameter_inputs(pipeline)
        if (node, dataset) not in DISPLAY_ONLY
        and (
            "." in dataset
            or (
                dataset.removeprefix("params:") in SHARED_MODEL_GROUPS
                and (annotation is None or _is_raw_mapping(annotation))
            )
        )
    ]
    assert not wrong, "\n".join(wrong)


def schema_field_names() -> set[str]:
    """Every key that any parameter schema defines, at any depth, but the names of
    the groups themselves (``source_groups`` is also a key of the metrics)."""
    top_level = {**SHARED_SCHEMAS, **RUN_SCHEMAS, **PIPELINE_SCHEMAS}
    names = {
        name
        for name, schema in top_level.items()
        if not (isinstance(schema, type) and issubclass(schema, BaseModel))
    }
    pending = list(top_level.values())
    while pending:
        schema = pending.pop()
        for inner in (schema, *typing.get_args(schema)):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                for name, field in inner.model_fields.items():
                    names.add(name)
                    pending.append(field.annotation)
            elif typing.get_args(inner):
                pending.extend(typing.get_args(inner))
    return names


def defaults_read_in(source: str, keys: set[str]) -> list[str]:
    """Each ``something.get("<parameter key>", <default>)`` of a source file."""
    reads = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "setdefault", "pop")
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in keys
        ):
            reads.append(f"line {node.lineno}: {ast.unparse(node)}")
    return reads


def test_no_pipeline_module_reads_a_parameter_default_of_its_own():
    keys = schema_field_names()
    assert {"batch_size", "negative_class", "warmup_epochs", "alpha"} <= keys
    reads = [
        f"{path.relative_to(PIPELINES_DIR)} {read}"
        for path in sorted(PIPELINES_DIR.rglob("*.py"))
        for read in defaults_read_in(path.read_text(), keys)
    ]
    assert not reads, "\n".join(reads)


def test_the_default_check_catches_a_default_read():
    source = 'def node(params):\n    return params.get("batch_size", 32)\n'
    assert defaults_read_in(source, {"batch_size"}) == [
        "line 2: params.get('batch_size', 32)"
    ]
