"""The schema of the ``serving`` parameter group (``conf/base/parameters_model_registration.yml``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from brain_tumor_mri.config.base import StrictModel


class ServingParams(StrictModel):
    max_images_per_request: int = Field(ge=1)
    max_request_pixels: int = Field(ge=1)


SCHEMAS: dict[str, Any] = {"serving": ServingParams}
