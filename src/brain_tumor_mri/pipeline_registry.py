"""Project pipelines."""

from __future__ import annotations

import importlib
import importlib.resources
from functools import partial

from kedro.pipeline import Pipeline

from brain_tumor_mri.framework.lazy_pipeline import LazyPipeline

PIPELINES_PACKAGE = "brain_tumor_mri.pipelines"

# The stages that ``training`` chains, in order: from raw images to the report.
TRAINING_STAGES = (
    "preprocessing",
    "model_construction",
    "model_training",
    "model_registration",
    "evaluation",
    "reporting",
)


def pipeline_names() -> list[str]:
    """The folders of ``pipelines/``, one pipeline each, as Kedro's ``find_pipelines``
    lists them."""
    return sorted(
        folder.name
        for folder in importlib.resources.files(PIPELINES_PACKAGE).iterdir()
        if folder.is_dir() and folder.name != "__pycache__"
        if not folder.name.startswith(".")
    )


def create_pipeline(name: str) -> Pipeline:
    """The pipeline of the folder ``pipelines/<name>``, from its ``create_pipeline``."""
    return importlib.import_module(f"{PIPELINES_PACKAGE}.{name}").create_pipeline()


def chain(stages: list[Pipeline]) -> Pipeline:
    """One pipeline of every node of ``stages``."""
    return sum(stages, start=Pipeline([]))


def register_pipelines() -> dict[str, Pipeline]:
    """Every pipeline under ``pipelines/`` by its folder name, and ``training``, the
    whole chain as one MLflow run, which is also the default.

    Each is made on first use (``LazyPipeline``), so that ``kedro registry list``
    imports no node, and ``kedro run --pipelines inference`` only the nodes it runs.
    """
    found = {
        name: LazyPipeline(partial(create_pipeline, name)) for name in pipeline_names()
    }
    training = LazyPipeline(partial(chain, [found[name] for name in TRAINING_STAGES]))
    # The default first, as find_pipelines puts it: Kedro-Viz describes a dataset
    # shared by several pipelines as the first pipeline that has it sees it.
    return {"__default__": training, **found, "training": training}
