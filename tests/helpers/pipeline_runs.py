"""Pipelines run in-process, as spaceflights' tests run theirs: a ``SequentialRunner``
on a ``DataCatalog`` built from a project's ``conf/``, without a ``KedroSession``, its
hooks or kedro-mlflow (whole runs are the end-to-end tests' job)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner

from brain_tumor_mri.settings import CONFIG_LOADER_ARGS


def _parameter(parameters: dict[str, Any], dotted: str) -> Any:
    """``params:a.b``'s value, as a session's catalog holds it."""
    value: Any = parameters
    for key in dotted.split("."):
        value = value[key]
    return value


def project_catalog(
    project: Path, pipeline: Pipeline, **runtime_params: Any
) -> DataCatalog:
    """The catalog of ``project``'s ``conf/`` (its paths relative to the working
    directory, the project's in these tests) with each parameter that ``pipeline``
    reads, the runtime parameters merged in as ``kedro run --params`` merges them."""
    loader = OmegaConfigLoader(
        conf_source=str(project / "conf"),
        **CONFIG_LOADER_ARGS,
        runtime_params=runtime_params,
    )
    catalog = DataCatalog.from_config(loader["catalog"])
    parameters = loader["parameters"]
    for name in sorted(pipeline.inputs()):
        if name.startswith("params:"):
            catalog[name] = _parameter(parameters, name.removeprefix("params:"))
    return catalog


def run_in_process(
    project: Path, pipeline: Pipeline, *, mlflow_run: bool = True, **runtime_params: Any
) -> tuple[DataCatalog, dict[str, Any]]:
    """``pipeline`` run by a ``SequentialRunner`` on ``project_catalog``: the catalog
    and the runner's outputs (their datasets). MLflow's store is the project's
    (``mlflow.db``), as in a session; with ``mlflow_run``, the MLflow datasets log to
    one run of an experiment of its own (an earlier test's session may have left
    another store's experiment id active), as kedro-mlflow opens one for a session."""
    catalog = project_catalog(project, pipeline, **runtime_params)
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    if not mlflow_run:
        return catalog, SequentialRunner().run(pipeline, catalog)
    mlflow.set_experiment("in_process")
    with mlflow.start_run():
        outputs = SequentialRunner().run(pipeline, catalog)
    return catalog, outputs
