"""Schemas of the ``model_construction`` and ``model_training`` parameter groups.

They belong in ``brain_tumor_mri.config.parameters.PARAMETER_SCHEMAS``, so that a wrong value
stops ``kedro run`` before any work, one line per problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import h5py
from pydantic import AfterValidator, Field, model_validator

from brain_tumor_mri.config.base import StrictModel

Fraction = Annotated[float, Field(ge=0, lt=1)]
Positive = Annotated[float, Field(gt=0)]
Switch = Literal["auto"] | bool


class HeadParams(StrictModel):
    pooling: Literal["avg", "max", "flatten"]
    hidden_units: list[Annotated[int, Field(ge=1)]] = []
    activation: str = "relu"
    batch_norm: bool = False
    dropout: Fraction


def _weights_source(weights: str | None) -> str | None:
    """``imagenet``, null, or the path of an HDF5 file (relative to the project)."""
    if weights is None or weights == "imagenet":
        return weights
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ValueError(
            f"no weights file at '{path}' (relative paths start at {Path.cwd()}). Use "
            "'imagenet', null (random initialisation) or the path of a ResNet-50 "
            "weights file without top (.h5 or .weights.h5)"
        )
    if not h5py.is_hdf5(path):
        raise ValueError(
            f"'{path}' is not a Keras weights file (HDF5, .h5 or .weights.h5). Use "
            "'imagenet', null (random initialisation) or the path of a ResNet-50 "
            "weights file without top"
        )
    return weights


class ModelConstructionParams(StrictModel):
    weights: Annotated[str | None, AfterValidator(_weights_source)]
    head: HeadParams


class FineTuneParams(StrictModel):
    stages: Literal["all"] | Annotated[int, Field(ge=0, le=5)]
    learning_rate: Positive


class AugmentationParams(StrictModel):
    flip: Literal["horizontal", "vertical", "horizontal_and_vertical"] | None = None
    rotation: Fraction | None = None
    zoom: Fraction | None = None
    translation: Fraction | None = None
    brightness: Fraction | None = None
    contrast: Fraction | None = None
    gamma: Fraction | None = None
    invert: Annotated[float, Field(ge=0, le=1)] | None = None
    noise: Fraction | None = None
    resolution: Annotated[float, Field(ge=0, le=0.9)] | None = None
    sharpness: Annotated[float, Field(ge=0, le=2)] | None = None
    jpeg_quality: Annotated[int, Field(ge=1, le=100)] | None = None
    ramp_epochs: Annotated[int, Field(ge=1)] | None = None


class GroupWeightParams(StrictModel):
    cap: Annotated[float, Field(ge=1)]


class OptimizerParams(StrictModel):
    name: Literal["adam", "adamw"] = "adam"
    weight_decay: Annotated[float, Field(ge=0)] = 0.0


class LrScheduleParams(StrictModel):
    name: Literal["constant", "cosine"] = "constant"
    warmup_epochs: Annotated[int, Field(ge=0)] = 0
    final_fraction: Fraction = 0.0


class EarlyStoppingParams(StrictModel):
    monitor: str
    mode: Literal["auto", "min", "max"] = "auto"
    patience: Annotated[int, Field(ge=0)]
    min_delta: Annotated[float, Field(ge=0)] = 0.0
    restore_best_weights: bool = False


class ReduceLrParams(StrictModel):
    monitor: str
    factor: Annotated[float, Field(gt=0, lt=1)]
    patience: Annotated[int, Field(ge=0)]
    min_delta: Annotated[float, Field(ge=0)] = 0.0
    min_lr: Annotated[float, Field(ge=0)] = 0.0


class ModelTrainingParams(StrictModel):
    epochs: Annotated[int, Field(ge=1)]
    batch_size: Annotated[int, Field(ge=1)]
    learning_rate: Positive
    warmup_epochs: Annotated[int, Field(ge=0)]
    fine_tune: FineTuneParams
    optimizer: OptimizerParams | None = None
    lr_schedule: LrScheduleParams | None = None
    label_smoothing: Fraction
    class_weight: Literal["balanced"] | None
    group_weight: GroupWeightParams | None = None
    augmentation: AugmentationParams | None
    early_stopping: EarlyStoppingParams | None
    reduce_lr: ReduceLrParams | None
    precision: Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"]
    jit_compile: Switch
    deterministic: Switch
    distribution: Literal["auto", "default", "mirrored", "multi_worker"]
    resume: bool
    checkpoint_dir: str
    verbose: Literal[0, 1, 2]

    @model_validator(mode="after")
    def _one_learning_rate_policy(self) -> ModelTrainingParams:
        if self.lr_schedule and self.lr_schedule.name != "constant" and self.reduce_lr:
            raise ValueError(
                "reduce_lr must be null with lr_schedule.name "
                f"'{self.lr_schedule.name}': the schedule sets the learning rate"
            )
        return self


MODEL_PARAMETER_SCHEMAS = {
    "model_construction": ModelConstructionParams,
    "model_training": ModelTrainingParams,
}
