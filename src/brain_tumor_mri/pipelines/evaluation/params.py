"""The schema of the ``evaluation`` parameter group (``conf/base/parameters_evaluation.yml``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from brain_tumor_mri.config.base import StrictModel


class ReviewParams(StrictModel):
    target_accuracy: float = Field(gt=0, le=1)


class BootstrapParams(StrictModel):
    resamples: int = Field(ge=0)
    confidence: float = Field(gt=0, lt=1)


class TentEvaluationParams(StrictModel):
    enabled: bool
    steps: int = Field(ge=1, le=1000)
    learning_rate: float = Field(gt=0, le=0.1)
    diversity_weight: float = Field(ge=0)


class LastLayerRetrainingParams(StrictModel):
    enabled: bool
    strengths: list[Annotated[float, Field(gt=0)]] = Field(min_length=1)


class EvaluationParams(StrictModel):
    batch_size: int = Field(ge=1)
    tta_flip: bool
    ece_bins: int = Field(ge=1, le=100)
    review: ReviewParams
    adapt_batch_norm: bool
    tent: TentEvaluationParams
    last_layer_retraining: LastLayerRetrainingParams
    bootstrap: BootstrapParams


SCHEMAS: dict[str, Any] = {"evaluation": EvaluationParams}
