"""The schema of the ``model_training`` parameter group (``conf/base/parameters_model_training.yml``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from brain_tumor_mri.config.base import StrictModel

Fraction = Annotated[float, Field(ge=0, lt=1)]
Positive = Annotated[float, Field(gt=0)]
Switch = Literal["auto"] | bool


class FineTuneParams(StrictModel):
    stages: Literal["all"] | Annotated[int, Field(ge=0, le=5)]
    learning_rate: Positive


class RandAugmentParams(StrictModel):
    num_ops: Annotated[int, Field(ge=1, le=11)]
    factor: Annotated[float, Field(gt=0, le=1)]


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
    rand_augment: RandAugmentParams | None = None
    mixup: Positive | None = None
    cutmix: Positive | None = None


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


SCHEMAS: dict[str, Any] = {"model_training": ModelTrainingParams}
