"""Project hooks: checks that stop a run before any work when its inputs are wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.io import CatalogProtocol
from kedro.pipeline import Pipeline

from brain_tumor_mri.parameters import ParameterError, check_parameters
from brain_tumor_mri.raw_layout import check_raw_layout


class ParameterCheckHook:
    """Stops a run whose parameters do not fit their schemas, naming each problem."""

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        check_parameters(context.params)


class InferenceInputHook:
    """Stops an inference run before any work when its folder of images is missing."""

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        if "inference_images" not in pipeline.inputs():
            return
        folder = catalog.get("inference_images")._path
        if not Path(folder).is_dir():
            raise ParameterError(
                f"No folder of images to predict at '{folder}'. Give one with "
                "`kedro run --pipelines inference --params input_dir=PATH` (see README, "
                "'Predict new images and serve the model')."
            )


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
