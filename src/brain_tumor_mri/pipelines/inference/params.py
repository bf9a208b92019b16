"""The schema of the ``inference`` parameter group (``conf/base/parameters_inference.yml``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from brain_tumor_mri.config.base import StrictModel


class InferenceParams(StrictModel):
    batch_size: int = Field(ge=1)
    adapt_batch_norm: bool


SCHEMAS: dict[str, Any] = {"inference": InferenceParams}
