"""The roles of the workers of a multi-worker training, as ``TF_CONFIG`` declares them.

Every worker runs ``kedro worker`` (``cli.py``) with the same ``TF_CONFIG`` cluster and
its own task. The chief (the ``chief`` task, or worker 0 where the cluster names none,
as TensorFlow decides) runs the whole pipeline: it logs to MLflow, writes ``data/``
and runs evaluation and reporting. Every other worker trains in step with it and
exits: ``NonChiefWorkerHook`` keeps its outputs off ``data/``, and ``settings.py``
registers no kedro-mlflow hook for it. Reads ``TF_CONFIG`` only, without TensorFlow,
so that ``settings.py`` stays light.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import CatalogProtocol, MemoryDataset
from kedro.pipeline import Pipeline

from brain_tumor_mri.datasets import NumpyArraysDataset

logger = logging.getLogger(__name__)


def tf_config() -> dict[str, Any]:
    """The ``TF_CONFIG`` environment variable, parsed (empty where it is not set)."""
    return json.loads(os.environ.get("TF_CONFIG") or "{}")


def tf_config_workers() -> int:
    """The number of workers that the ``TF_CONFIG`` environment variable declares."""
    cluster = tf_config().get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def is_chief() -> bool:
    """False only on a worker of a several-worker ``TF_CONFIG`` that is not its chief."""
    if tf_config_workers() < 2:
        return True
    config = tf_config()
    task = config.get("task", {})
    if config["cluster"].get("chief"):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def worker_name() -> str:
    """``chief``, ``worker 1``, ...: this process's task in ``TF_CONFIG``."""
    task = tf_config().get("task", {})
    if task.get("type") == "chief":
        return "chief"
    return f"{task.get('type', 'worker')} {task.get('index', 0)}"


class NonChiefWorkerHook:
    """On a worker that is not the chief, the run's outputs never reach ``data/``.

    The worker then trains in step with the chief and leaves nothing behind (the
    chief writes the model, the history and the checkpoints); ``kedro worker`` also
    stops it after ``train_model``. Outputs stay in memory, but the cached splits,
    which their nodes stream to disk, go to a temporary folder deleted at the end.
    """

    def __init__(self) -> None:
        self._folder: tempfile.TemporaryDirectory | None = None

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        if is_chief():
            return
        outputs = sorted(name for name in pipeline.all_outputs() if name in catalog)
        logger.info(
            "%s is not the chief: no MLflow run, and %s stay off data/.",
            worker_name().capitalize(),
            ", ".join(outputs),
        )
        self._folder = tempfile.TemporaryDirectory(prefix="brain_tumor_mri-worker-")
        for name in outputs:
            if isinstance(catalog.get(name), NumpyArraysDataset):
                catalog[name] = NumpyArraysDataset(path=Path(self._folder.name) / name)
            else:
                catalog[name] = MemoryDataset(copy_mode="assign")

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._clean_up()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._clean_up()

    def _clean_up(self) -> None:
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None
