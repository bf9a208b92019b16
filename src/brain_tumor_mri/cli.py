"""Project commands of the ``kedro`` CLI: ``kedro worker``, and Kedro's own ``run``.

Kedro finds this module by its name (``<package>.cli``) and adds the commands of its
``cli`` group to ``kedro``'s; ``python -m brain_tumor_mri`` runs the ``run`` of this
module, which is Kedro's own.
"""

from __future__ import annotations

import logging
from typing import Any

import click
from kedro.framework.cli.project import run

from brain_tumor_mri.multi_worker import is_chief, tf_config_workers, worker_name

logger = logging.getLogger(__name__)

__all__ = ["cli", "run"]

WORKER_HELP = """Run a pipeline as one worker of a multi-worker training (TF_CONFIG).

Makes tf.distribute.MultiWorkerMirroredStrategy for the cluster of TF_CONFIG before
any other TensorFlow op, then runs the pipeline as `kedro run` with the same options.
The chief runs it whole; every other worker runs it up to train_model, writes
nothing under data/ and logs nothing to MLflow. See docs/training.md.
"""


def _run_worker(**run_options: Any) -> Any:
    if tf_config_workers() < 2:  # noqa: PLR2004 (a cluster has two workers or more)
        raise click.UsageError(
            "kedro worker needs TF_CONFIG to list two workers or more, e.g. "
            'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}\' (see docs/training.md).'
        )
    # TensorFlow is imported by this command only, not by every `kedro` command.
    from brain_tumor_mri.pipelines.model_training.devices import (  # noqa: PLC0415
        distribution_strategy,
        strategy_description,
        wait_for_every_worker,
    )

    strategy = distribution_strategy("multi_worker")
    logger.info("%s of %s.", worker_name().capitalize(), strategy_description(strategy))
    if not is_chief():
        run_options["to_nodes"] = ["train_model"]
    result = run.callback(**run_options)
    # The workers leave the cluster together: one that left early would be reported
    # to the others as crashed.
    wait_for_every_worker(strategy)
    logger.info("%s is done.", worker_name().capitalize())
    return result


worker = click.Command(
    "worker",
    params=run.params,
    callback=_run_worker,
    help=WORKER_HELP,
    short_help="Run a pipeline as one worker of a multi-worker training.",
)


@click.group(name="brain_tumor_mri")
def cli() -> None:
    """Commands of the brain_tumor_mri project."""


cli.add_command(worker)
