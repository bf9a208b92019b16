"""The schema of the ``preprocessing`` parameter group (``conf/base/parameters_preprocessing.yml``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from brain_tumor_mri.config.base import StrictModel
from brain_tumor_mri.core.images.limits import check_formats


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


SCHEMAS: dict[str, Any] = {"preprocessing": PreprocessingParams}
