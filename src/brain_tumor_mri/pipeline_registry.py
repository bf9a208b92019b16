"""Project pipelines: each folder of ``pipelines/``, as Kedro's ``find_pipelines``
finds it, and ``training``, the chain of the stages, which is also the default."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from brain_tumor_mri.compat.kedro_requested_pipelines import (
    requested_pipelines,
    requesting,
)
from brain_tumor_mri.config.parameters import PIPELINE_NAMES, TRAINING_STAGES

# The names that the registry composes from the folders' pipelines.
COMPOSED = ("__default__", "training")


def registered_names() -> list[str]:
    """Every name that ``register_pipelines`` registers, without making a pipeline:
    what ``kedro registry list`` prints."""
    return sorted([*PIPELINE_NAMES, *COMPOSED])


def folders_to_find(requested: list[str] | None) -> list[str] | None:
    """The folders that the pipelines ``requested`` are made of (``None``: all)."""
    if requested is None or "__default__" in requested:
        return None
    folders = {name for name in requested if name in PIPELINE_NAMES}
    if "training" in requested:
        folders |= set(TRAINING_STAGES)
    return sorted(folders)


def register_pipelines() -> dict[str, Pipeline]:
    """Every pipeline under ``pipelines/`` by its folder name, and ``training``, the
    whole chain as one MLflow run, which is also the default.

    Only the pipelines that the command asked for are made (Kedro's selective
    loading), so that ``kedro run --pipelines inference`` imports only the nodes it
    runs; ``training`` asks for its stages.
    """
    with requesting(folders_to_find(requested_pipelines())):
        found = find_pipelines(raise_errors=True)
    # find_pipelines adds an empty "__default__" when it finds every folder.
    found = {name: found[name] for name in PIPELINE_NAMES if name in found}
    if not set(TRAINING_STAGES) <= set(found):
        return found
    training = sum((found[name] for name in TRAINING_STAGES), start=Pipeline([]))
    # The default first, as find_pipelines puts it: Kedro-Viz describes a dataset
    # shared by several pipelines as the first pipeline that has it sees it.
    return {"__default__": training, **found, "training": training}
