"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline


def register_pipelines() -> dict[str, Pipeline]:
    """Every pipeline under ``pipelines/`` by its folder name; ``training`` is the default."""
    pipelines = find_pipelines(raise_errors=True)
    if "training" in pipelines:
        pipelines["__default__"] = pipelines["training"]
    return pipelines
