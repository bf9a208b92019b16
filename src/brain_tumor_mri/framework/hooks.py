"""Project hooks: checks that stop a run before any work when its inputs are wrong,
and the name of its MLflow run."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.io import CatalogProtocol
from kedro.pipeline import Pipeline
from mlflow import MlflowClient

from brain_tumor_mri.config.parameters import ParameterError, check_parameters
from brain_tumor_mri.datasets.local_files_dataset import list_files
from brain_tumor_mri.framework.raw_layout import check_raw_layout
from brain_tumor_mri.model_store.model_uris import (
    ModelUriError,
    check_keras_model_uri,
    model_flavors,
)

logger = logging.getLogger(__name__)


class ParameterCheckHook:
    """Stops a run whose parameters do not fit their schemas, naming each problem.

    It runs when the context is created, before kedro-mlflow opens a run (at
    ``before_pipeline_run``), so a refused run leaves no MLflow run.
    """

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        check_parameters(context.params)


INFERENCE_HELP = (
    "`kedro run --pipelines inference --params input_dir=PATH` (see README, "
    "'Predict new images and serve the model')"
)


def local_output_path(config: dict[str, Any] | None) -> Path | None:
    """The local file or folder that a dataset's catalog entry writes; None for any
    other (no entry, no path, or a remote one)."""
    location = (config or {}).get("filepath") or (config or {}).get("path")
    if not location:
        return None
    location = str(location)
    if "://" in location and not location.startswith("file://"):
        return None
    return Path(location.removeprefix("file://"))


class InferenceInputHook:
    """Clears the previous results of an inference run, then checks its folder.

    First, every file and folder that the pipeline writes (``predictions.csv``,
    ``gradcam/``, ...) is deleted, so that whatever the run leaves in the output
    folder belongs to it, even when it stops at once, predicts nothing or fails
    half-way. Then a missing folder, or one with no file, stops the run before any
    other work with one line. Runs before kedro-mlflow's hook (``tryfirst``).
    """

    @hook_impl(tryfirst=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        if "inference_images" not in pipeline.inputs():
            return
        # The catalog's resolved entries (public API), not the dataset's private _path.
        configs = catalog.config_resolver.config
        folder = Path(configs["inference_images"]["path"])
        outputs = [
            path
            for name in sorted(pipeline.all_outputs())
            if (path := local_output_path(configs.get(name))) is not None
        ]
        for path in outputs:
            if folder.resolve().is_relative_to(path.resolve()):
                raise ParameterError(
                    f"The folder of images to predict '{folder}' is inside '{path}', "
                    "which each inference run replaces: copy the images elsewhere."
                )
        for path in outputs:
            delete_output(path)
        check_inference_folder(folder)


def delete_output(path: Path) -> None:
    """Delete the file or folder that an earlier run wrote at ``path``, if any."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    else:
        return
    logger.info("Deleted '%s', the output of an earlier run.", path)


def check_inference_folder(folder: Path) -> None:
    """Raise ``ParameterError`` unless ``folder`` is a folder with a file in it."""
    check_image_folder(folder, "folder of images to predict", INFERENCE_HELP)


def check_image_folder(folder: Path, what: str, command: str) -> None:
    """Raise ``ParameterError`` (one line) unless ``folder`` is a folder with a file
    in it; ``what`` names the folder and ``command`` says how to give another."""
    if folder.is_file():
        raise ParameterError(
            f"The {what} '{folder}' is a file, not a folder. Give the folder that "
            f"holds the images with {command}."
        )
    if not folder.is_dir():
        raise ParameterError(f"No {what} at '{folder}'. Give one with {command}.")
    if not list_files(folder):
        raise ParameterError(
            f"The {what} '{folder}' has no file (sub-folders are searched too). Put "
            f"JPEG, PNG or DICOM images in it, or give another folder with {command}."
        )


SITE_HELP = (
    "`kedro run --pipelines site_adaptation --params site_dir=PATH` (see "
    "docs/site_adaptation.md)"
)
# The value that replaces the site's folder in the run's `runtime_params` tag.
SITE_DIR_NOT_LOGGED = "<not logged>"


class SiteFolderHook:
    """Stops a site adaptation run whose folder is missing or has no file, with one
    line, before kedro-mlflow opens its run (``tryfirst``), so that no run is left."""

    @hook_impl(tryfirst=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        if "site_images" not in pipeline.inputs():
            return
        folder = Path(catalog.config_resolver.config["site_images"]["path"])
        check_image_folder(folder, "site folder of images", SITE_HELP)


# The dataset whose model must have a Keras model in it; any other dataset with a
# ``model_uri`` needs only a model that resolves.
KERAS_MODEL_URI_DATASET = "MlflowKerasModelUriDataset"


def model_uris(configs: dict[str, dict[str, Any]], names: set[str]) -> dict[str, bool]:
    """``{model URI: whether a Keras model is needed}`` of the catalog entries
    ``names`` that give a ``model_uri`` (directly, or in the dataset they wrap)."""
    found: dict[str, bool] = {}
    for name in sorted(names):
        config = configs.get(name) or {}
        inner = config.get("dataset")
        for entry in (config, inner if isinstance(inner, dict) else {}):
            uri = entry.get("model_uri")
            if uri:
                keras = str(entry.get("type", "")).endswith(KERAS_MODEL_URI_DATASET)
                found[str(uri)] = found.get(str(uri), False) or keras
    return found


class ModelUriCheckHook:
    """Stops a run whose ``model_uri`` (``--params model_uri=URI``) does not resolve,
    or not to a model with a Keras model in it, with one line that names the URI and
    how to list the models; before kedro-mlflow opens its run (``tryfirst``), and
    after it set the tracking URI (``after_context_created``)."""

    @hook_impl(tryfirst=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        configs = catalog.config_resolver.config
        for uri, needs_keras in model_uris(configs, pipeline.inputs()).items():
            try:
                check_keras_model_uri(uri) if needs_keras else model_flavors(uri)
            except ModelUriError as error:
                raise ParameterError(str(error)) from None


class SiteFolderTagHook:
    """Replaces the site's folder in the ``runtime_params`` tag that kedro-mlflow
    sets on the run from the command's ``--params`` (``trylast``: after
    kedro-mlflow's hook): a site's folder may be named after the site or a patient,
    and the run records only the images' fingerprint."""

    @hook_impl(trylast=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        runtime = run_params.get("runtime_params") or {}
        if "site_dir" in runtime and mlflow.active_run() is not None:
            mlflow.set_tag(
                "runtime_params", str({**runtime, "site_dir": SITE_DIR_NOT_LOGGED})
            )


class RawDataLayoutHook:
    """Stops a run that reads the raw images before any node runs if their folder is
    wrong; before kedro-mlflow's hook (``tryfirst``), so that no MLflow run is opened."""

    @hook_impl(tryfirst=True)
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


def describe_run(
    pipeline_name: str, env: str, params: dict[str, Any], inputs: set[str]
) -> str:
    """A run name that says what sets the run apart, e.g.
    ``training · quick · random weights · 64x64 · 2 epochs``: the pipeline, the
    environment, then the weights, image size and epochs where the pipeline reads them."""
    parts = [pipeline_name, env]
    if "params:model_construction" in inputs:
        weights = params["model_construction"]["weights"]
        parts.append(
            "random weights"
            if weights is None
            else f"{Path(str(weights)).name} weights"
        )
    if "params:image_size" in inputs:
        parts.append("x".join(str(side) for side in params["image_size"]))
    if "params:model_training" in inputs:
        parts.append(f"{params['model_training']['epochs']} epochs")
    return " · ".join(parts)


class MlflowRunNameHook:
    """Names the MLflow run that kedro-mlflow opened with ``describe_run`` and tags it
    with its pipeline (``pipeline``).

    kedro-mlflow names a run after its pipeline, so every run was ``training``. A name
    given in ``conf/base/mlflow.yml`` (``tracking.run.name``), or with
    ``kedro run --params run_name=NAME``, which that file reads, is kept. Both methods
    run after kedro-mlflow's (``trylast``), which sets ``context.mlflow`` and opens the
    run.
    """

    def __init__(self) -> None:
        self._env = ""
        self._configured_name: str | None = None

    @hook_impl(trylast=True)
    def after_context_created(self, context: KedroContext) -> None:
        loader = context.config_loader
        self._env = getattr(loader, "env", None) or getattr(
            loader, "default_run_env", ""
        )
        mlflow_config = getattr(context, "mlflow", None)
        self._configured_name = (
            mlflow_config.tracking.run.name if mlflow_config else None
        )

    @hook_impl(trylast=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        run = mlflow.active_run()
        if run is None:
            return
        pipeline_name = "+".join(run_params.get("pipeline_names") or ["__default__"])
        mlflow.set_tag("pipeline", pipeline_name)
        if self._configured_name is None and run.info.run_name == pipeline_name:
            name = describe_run(
                pipeline_name, self._env, catalog.load("parameters"), pipeline.inputs()
            )
            MlflowClient().update_run(run.info.run_id, name=name)
            logger.info("MLflow run '%s' is named '%s'.", run.info.run_id, name)


# MLflow keeps tag values up to 8000 characters.
MAX_TAG_LENGTH = 8000


class FailedRunReasonHook:
    """Tags the MLflow run of a failed pipeline with its one-line reason (``error``),
    before kedro-mlflow ends it as FAILED (``tryfirst``)."""

    @hook_impl(tryfirst=True)
    def on_pipeline_error(self, error: Exception) -> None:
        if mlflow.active_run() is None:
            return
        reason = " ".join(f"{type(error).__name__}: {error}".split())
        mlflow.set_tag("error", reason[:MAX_TAG_LENGTH])
