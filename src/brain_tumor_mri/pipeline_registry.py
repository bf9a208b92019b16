"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# The stages that ``training`` chains, in order: from raw images to the report.
TRAINING_STAGES = (
    "preprocessing",
    "model_construction",
    "model_training",
    "model_registration",
    "evaluation",
    "reporting",
)


def register_pipelines() -> dict[str, Pipeline]:
    """Every pipeline under ``pipelines/`` by its folder name, and ``training``, the
    whole chain as one MLflow run, which is also the default."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["training"] = sum(
        (pipelines[name] for name in TRAINING_STAGES), start=Pipeline([])
    )
    pipelines["__default__"] = pipelines["training"]
    return pipelines
