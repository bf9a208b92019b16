"""The shared parameter schema: the values that more than one pipeline reads
(``conf/base/parameters.yml``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from brain_tumor_mri.config.base import StrictModel
from brain_tumor_mri.core.images.limits import MIN_IMAGE_SIDE, check_formats


class ClassSpec(StrictModel):
    name: str = Field(min_length=1)
    aliases: list[str] = []


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


class ImageInputParams(StrictModel):
    max_image_pixels: int = Field(ge=1)
    image_formats: Annotated[
        list[str], Field(min_length=1), AfterValidator(check_formats)
    ]


class GradcamParams(StrictModel):
    layer: str = Field(min_length=1)
    alpha: float = Field(ge=0, le=1)
    batch_size: int = Field(ge=1)


class ScreeningParams(StrictModel):
    min_specificity: float = Field(ge=0, le=1)
    sensitivity_ties: Literal["exact", "standard_error"] = "exact"


SHARED_SCHEMAS: dict[str, Any] = {
    "seed": int,
    "image_size": Annotated[
        list[Annotated[int, Field(ge=MIN_IMAGE_SIDE)]],
        Field(min_length=2, max_length=2),
    ],
    "classes": Annotated[list[ClassSpec], Field(min_length=2)],
    "negative_class": Annotated[str, Field(min_length=1)],
    "source_groups": SourceGroupParams,
    "screening": ScreeningParams,
    "image_preprocessing": ImagePreprocessingParams,
    "gradcam": GradcamParams,
    "image_input": ImageInputParams,
}
