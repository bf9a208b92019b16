"""Project hooks: checks that stop a run before any work when its inputs are wrong."""

from __future__ import annotations

from typing import Any

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.io import CatalogProtocol
from kedro.pipeline import Pipeline

from brain_tumor_mri.parameters import check_parameters
from brain_tumor_mri.raw_layout import check_raw_layout


class ParameterCheckHook:
    """Stops a run whose parameters do not fit their schemas, naming each problem."""

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        check_parameters(context.params)


class RawDataLayoutHook:
    """Stops a run that reads the raw images before any node runs if their folder is wrong."""

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        if "raw_images" not in pipeline.inputs():
            return
        check_raw_layout(
            catalog.load("params:raw_data_dir"),
            catalog.load("params:preprocessing")["split_folders"],
            catalog.load("params:classes"),
        )
