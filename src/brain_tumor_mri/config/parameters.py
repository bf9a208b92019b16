"""Schemas of the project's parameters, checked before a run starts.

A wrong parameter (a typo, a value out of range, a wrong type) stops ``kedro run`` at
once with one line per problem, instead of failing later inside a node. Pipelines add
the schema of their own parameter group to ``PARAMETER_SCHEMAS``.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

import click
from pydantic import AfterValidator, Field, TypeAdapter, ValidationError

from brain_tumor_mri.config.base import StrictModel
from brain_tumor_mri.config.model_parameters import MODEL_PARAMETER_SCHEMAS
from brain_tumor_mri.core.images import check_formats

__all__ = ["PARAMETER_SCHEMAS", "ParameterError", "StrictModel", "check_parameters"]


class ParameterError(click.ClickException):
    """Parameters that do not fit their schema; ``kedro run`` prints it without a traceback."""


class ClassSpec(StrictModel):
    name: str = Field(min_length=1)
    aliases: list[str] = []


class ShortcutAuditParams(StrictModel):
    warn_above_majority: float = Field(ge=0, le=1)


class PreprocessingParams(StrictModel):
    split_folders: dict[Literal["train", "test"], str]
    max_images_per_class: Annotated[int, Field(ge=1)] | None = None
    validation_fraction: float = Field(gt=0, lt=1)
    near_duplicate_max_distance: int = Field(ge=0, le=64)
    workers: int = Field(ge=1)
    max_image_pixels: int = Field(ge=1)
    image_formats: Annotated[
        list[str], Field(min_length=1), AfterValidator(check_formats)
    ]
    shortcut_audit: ShortcutAuditParams


class SourceGroupRule(StrictModel):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    match: dict[str, str | int | float] = Field(min_length=1)


class SourceGroupParams(StrictModel):
    rules: list[SourceGroupRule]
    default: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    min_images: int = Field(ge=1)


class CropParams(StrictModel):
    enabled: bool
    threshold: float = Field(gt=0, lt=1)
    margin: float = Field(ge=0, le=0.5)


class ImagePreprocessingParams(StrictModel):
    crop_to_brain: CropParams
    intensity: Literal["percentile", "clahe"] | None = None


class ReviewParams(StrictModel):
    target_accuracy: float = Field(gt=0, le=1)


class ScreeningParams(StrictModel):
    negative_class: str = Field(min_length=1)


class EvaluationParams(StrictModel):
    batch_size: int = Field(ge=1)
    tta_flip: bool
    ece_bins: int = Field(ge=1, le=100)
    review: ReviewParams
    screening: ScreeningParams
    adapt_batch_norm: bool


class GradcamParams(StrictModel):
    layer: str = Field(min_length=1)
    examples_per_class: int = Field(ge=1, le=20)
    alpha: float = Field(ge=0, le=1)
    batch_size: int = Field(ge=1)


class ReportingParams(StrictModel):
    misclassified_examples: int = Field(ge=0)
    missed_tumour_examples: int = Field(ge=0)
    gradcam: GradcamParams


class InferenceParams(StrictModel):
    batch_size: int = Field(ge=1)
    adapt_batch_norm: bool


class ServingParams(StrictModel):
    max_images_per_request: int = Field(ge=1)
    max_request_pixels: int = Field(ge=1)


def _external_test_folder(path: str) -> str:
    if not Path(path).is_dir():
        raise ValueError(
            f"no folder at '{path}' (expected <folder>/<class or alias>/<images>, or "
            "no external_test_dir for no external test set)"
        )
    return path


PARAMETER_SCHEMAS: dict[str, Any] = {
    "raw_data_dir": str,
    "seed": int,
    "image_size": Annotated[
        list[Annotated[int, Field(ge=8)]], Field(min_length=2, max_length=2)
    ],
    "classes": Annotated[list[ClassSpec], Field(min_length=2)],
    "preprocessing": PreprocessingParams,
    "source_groups": SourceGroupParams,
    "image_preprocessing": ImagePreprocessingParams,
    "evaluation": EvaluationParams,
    "reporting": ReportingParams,
    "inference": InferenceParams,
    "serving": ServingParams,
    # Checked by InferenceInputHook, after it deletes the previous run's outputs.
    "input_dir": Annotated[str, Field(min_length=1)],
    "model_uri": Annotated[str, Field(min_length=1)] | None,
    "external_test_dir": Annotated[str, AfterValidator(_external_test_folder)],
    "run_name": str | None,
    **MODEL_PARAMETER_SCHEMAS,
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
    negative = ((params.get("evaluation") or {}).get("screening") or {}).get(
        "negative_class"
    )
    if names and isinstance(negative, str) and negative not in names:
        problems.append(
            f"evaluation.screening.negative_class: '{negative}' is not a class "
            f"(classes: {names})"
        )
    if problems:
        raise ParameterError(
            "Invalid parameters in conf/ or --params:\n  - "
            + "\n  - ".join(problems)
            + "\nEach parameter is described in the comments of conf/base/parameters*.yml."
        )
