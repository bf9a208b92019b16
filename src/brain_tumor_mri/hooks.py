"""Project hooks: checks that stop a run before any work when its inputs are wrong."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.io import CatalogProtocol
from kedro.pipeline import Pipeline

from brain_tumor_mri.parameters import ParameterError, check_parameters
from brain_tumor_mri.raw_layout import check_raw_layout

logger = logging.getLogger(__name__)


class ParameterCheckHook:
    """Stops a run whose parameters do not fit their schemas, naming each problem."""

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        check_parameters(context.params)


INFERENCE_HELP = (
    "`kedro run --pipelines inference --params input_dir=PATH` (see README, "
    "'Predict new images and serve the model')"
)


def local_output_path(dataset: Any) -> Path | None:
    """The local file or folder a file-backed dataset writes; None for any other."""
    description = dataset._describe() if hasattr(dataset, "_describe") else {}
    location = description.get("filepath") or description.get("path")
    if not location or description.get("protocol", "file") != "file":
        return None
    location = str(location)
    if "://" in location and not location.startswith("file://"):
        return None
    return Path(location.removeprefix("file://"))


class InferenceInputHook:
    """Checks an inference run's folder of images, then clears the previous results.

    A missing folder, or one with no file, stops the run before any work with one
    line. Then every file and folder that the pipeline writes (``predictions.csv``,
    ``gradcam/``, ...) is deleted, so that whatever the run leaves in the output
    folder belongs to it, even when it predicts nothing or fails half-way.
    """

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
                f"{INFERENCE_HELP}."
            )
        if not any(path.is_file() for path in Path(folder).rglob("*")):
            raise ParameterError(
                f"The folder of images to predict '{folder}' has no file (sub-folders "
                f"are searched too). Put JPEG or PNG images in it, or give another "
                f"folder with {INFERENCE_HELP}."
            )
        for name in sorted(pipeline.all_outputs()):
            path = local_output_path(catalog.get(name)) if name in catalog else None
            if path is not None and Path(folder).resolve().is_relative_to(
                path.resolve()
            ):
                raise ParameterError(
                    f"The folder of images to predict '{folder}' is inside '{path}', "
                    "which each inference run replaces: copy the images elsewhere."
                )
            if path is not None and path.is_dir():
                shutil.rmtree(path)
            elif path is not None and path.exists():
                path.unlink()
            else:
                continue
            logger.info("Deleted '%s', the output of an earlier run.", path)


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
