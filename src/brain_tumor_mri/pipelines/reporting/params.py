"""The schema of the ``reporting`` parameter group (``conf/base/parameters_reporting.yml``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from brain_tumor_mri.config.base import StrictModel


class ReportingParams(StrictModel):
    misclassified_examples: int = Field(ge=0)
    missed_tumour_examples: int = Field(ge=0)
    gradcam_examples_per_class: int = Field(ge=1, le=20)


SCHEMAS: dict[str, Any] = {"reporting": ReportingParams}
