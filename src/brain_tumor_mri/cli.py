"""Project commands of the ``kedro`` CLI: ``kedro worker``, ``kedro review``,
``kedro registry list`` (names only), and Kedro's own ``run``.

Kedro finds this module by its name (``<package>.cli``) and adds the commands of its
``cli`` group to ``kedro``'s; ``python -m brain_tumor_mri`` runs the ``run`` of this
module, which is Kedro's own.
"""

from __future__ import annotations

import logging
from typing import Any

import click
import yaml
from kedro.framework.cli.project import run
from kedro.framework.cli.registry import describe_registered_pipeline

from brain_tumor_mri.framework.multi_worker import (
    is_chief,
    tf_config_workers,
    worker_name,
)
from brain_tumor_mri.pipeline_registry import registered_names

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
    from brain_tumor_mri.framework.distribution import (  # noqa: PLC0415
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


# Kedro lets a project's cli.py override its own commands. Its `registry list` makes
# every pipeline (so imports every node, and TensorFlow) to print their names; upstream
# means to list them from the folders alone (kedro-org/kedro#5550). This one does.
@cli.group()
def registry() -> None:
    """Commands for working with registered pipelines."""


@registry.command("list")
def list_registered_pipelines() -> None:
    """List all pipelines defined in your pipeline_registry.py file."""
    click.echo(yaml.dump(registered_names()))


registry.add_command(describe_registered_pipeline)

REVIEW_HELP = """Serve the review page: upload MRI slices or DICOMs, see the model's answer.

Loads the registered servable model (by default its latest version) with the MLflow
set-up of conf/<env>/mlflow.yml and serves a page at http://HOST:PORT that shows, for
each uploaded file, the class probabilities, the needs_review flag and its threshold,
the slice as the model saw it and its Grad-CAM. Binds to 127.0.0.1 unless told
otherwise, and answers only requests to its own address (Host), with a JSON body of
--max-request-mb at most. See docs/review_page.md.
"""
# The default of --max-request-mb: the review page's own limit (review/guard.py).
MAX_REQUEST_MB = 64


@cli.command(name="review", help=REVIEW_HELP, short_help="Serve the review page.")
@click.option(
    "--model-uri",
    default=None,
    help="MLflow URI of the servable model: models:/<name>/<version>, "
    "models:/<name>@<alias>, runs:/<run id>/servable_model. "
    "Default: the latest registered version.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port.")
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="Another name (or address) that browsers reach the page by, such as the "
    "machine's name when --host is 0.0.0.0; repeatable. Requests to any name other "
    "than --host's (and, for 127.0.0.1, localhost and [::1]) are refused.",
)
@click.option(
    "--max-request-mb",
    default=MAX_REQUEST_MB,
    show_default=True,
    type=click.IntRange(min=1),
    help="Largest request body, in MiB (MB of 2**20 bytes); a larger one gets HTTP 413.",
)
@click.option("--env", "-e", default=None, help="Kedro configuration environment.")
def review(  # noqa: PLR0913, PLR0917 (click passes each option)
    model_uri: str | None,
    host: str,
    port: int,
    allowed_hosts: tuple[str, ...],
    max_request_mb: int,
    env: str | None,
) -> None:
    # TensorFlow and the web server are imported by this command only.
    from brain_tumor_mri.review.server import serve_review_page  # noqa: PLC0415

    serve_review_page(
        model_uri,
        host,
        port,
        env,
        extra_hosts=allowed_hosts,
        max_request_bytes=max_request_mb * 1024 * 1024,
    )
