"""Starting the review page for the project's model: ``kedro review``."""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

import click
import uvicorn
from kedro.framework.session import KedroSession

from brain_tumor_mri.config.shared import GradcamParams
from brain_tumor_mri.model_store.model_uris import (
    ModelUriError,
    check_servable_model_uri,
)
from brain_tumor_mri.review.app import Reviewer, create_app, load_classifier
from brain_tumor_mri.review.guard import MAX_REQUEST_BYTES, allowed_hosts

logger = logging.getLogger(__name__)


def latest_registered_uri(registered_name: str) -> str:
    """The URI of the newest version of the registered servable model."""
    return f"models:/{registered_name}/latest"


def serve_review_page(  # noqa: PLR0913 (the options of kedro review)
    model_uri: str | None,
    host: str,
    port: int,
    env: str | None = None,
    *,
    extra_hosts: Collection[str] = (),
    max_request_bytes: int = MAX_REQUEST_BYTES,
) -> None:
    """Load the model with the project's MLflow set-up and serve the page until stopped.

    The Kedro session of ``env`` sets MLflow's tracking URI (``conf/*/mlflow.yml``) and
    gives the registered model's name (the catalog's ``servable_model``) and the
    Grad-CAM parameters (``gradcam``). The page answers requests whose ``Host`` is
    ``host`` (with the loopback names for a loopback address) or one of
    ``extra_hosts``, with ``port``, and bodies of ``max_request_bytes`` at most.
    """
    with KedroSession.create(project_path=Path.cwd(), env=env) as session:
        context = session.load_context()
        # Checked with the pipelines' schema: the same values, the same errors.
        gradcam = GradcamParams.model_validate(context.params["gradcam"])
        catalog = context.config_loader["catalog"]
        registered = catalog["servable_model"]["registered_model_name"]
    model_uri = model_uri or latest_registered_uri(registered)
    try:
        check_servable_model_uri(model_uri)
    except ModelUriError as error:
        raise click.ClickException(str(error)) from None
    logger.info("Loading the model %s for the review page.", model_uri)
    reviewer = Reviewer(
        load_classifier(model_uri),
        model_uri,
        gradcam,
    )
    logger.info("The review page is at http://%s:%d (Ctrl+C stops it).", host, port)
    app = create_app(
        reviewer, allowed_hosts(host, port, extra_hosts), max_request_bytes
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
