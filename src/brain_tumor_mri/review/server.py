"""Starting the review page for the project's model: ``kedro review``."""

from __future__ import annotations

import logging
from pathlib import Path

import uvicorn
from kedro.framework.session import KedroSession

from brain_tumor_mri.review.app import Reviewer, create_app, load_classifier

logger = logging.getLogger(__name__)


def latest_registered_uri(registered_name: str) -> str:
    """The URI of the newest version of the registered servable model."""
    return f"models:/{registered_name}/latest"


def serve_review_page(
    model_uri: str | None, host: str, port: int, env: str | None = None
) -> None:
    """Load the model with the project's MLflow set-up and serve the page until stopped.

    The Kedro session of ``env`` sets MLflow's tracking URI (``conf/*/mlflow.yml``) and
    gives the registered model's name (the catalog's ``servable_model``) and the
    Grad-CAM parameters (``gradcam``).
    """
    with KedroSession.create(project_path=Path.cwd(), env=env) as session:
        context = session.load_context()
        gradcam = context.params["gradcam"]
        catalog = context.config_loader["catalog"]
        registered = catalog["servable_model"]["registered_model_name"]
    model_uri = model_uri or latest_registered_uri(registered)
    logger.info("Loading the model %s for the review page.", model_uri)
    reviewer = Reviewer(
        load_classifier(model_uri),
        model_uri,
        gradcam_layer=gradcam["layer"],
        gradcam_alpha=float(gradcam["alpha"]),
        gradcam_batch_size=int(gradcam["batch_size"]),
    )
    logger.info("The review page is at http://%s:%d (Ctrl+C stops it).", host, port)
    uvicorn.run(create_app(reviewer), host=host, port=port, log_level="warning")
