"""The schema of the ``site_adaptation`` parameter group
(``conf/base/parameters_site_adaptation.yml``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from brain_tumor_mri.config.base import StrictModel


class TentParams(StrictModel):
    steps: int = Field(ge=1, le=1000)
    learning_rate: float = Field(gt=0, le=0.1)
    diversity_weight: float = Field(ge=0)


class SiteAdaptationParams(StrictModel):
    method: Literal["adabn", "tent"]
    batch_size: int = Field(ge=2)
    tent: TentParams


SCHEMAS: dict[str, Any] = {"site_adaptation": SiteAdaptationParams}
