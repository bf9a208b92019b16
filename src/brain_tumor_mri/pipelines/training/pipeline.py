"""The ``training`` pipeline: every stage from raw images to the trained model."""

from kedro.pipeline import Pipeline

from brain_tumor_mri.pipelines import (
    evaluation,
    model_construction,
    model_registration,
    model_training,
    preprocessing,
    reporting,
)

STAGES = (
    preprocessing,
    model_construction,
    model_training,
    model_registration,
    evaluation,
    reporting,
)


def create_pipeline(**kwargs) -> Pipeline:
    return sum((stage.create_pipeline() for stage in STAGES), start=Pipeline([]))
