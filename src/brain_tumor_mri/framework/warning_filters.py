"""The one place where warnings are filtered.

Only third-party warnings about third-party code that the project cannot change, each
by its message and the module that warns (the module's file, for the one that only a
logging filter can stop). ``settings.py`` installs them for every
Kedro session; the ``kedro.init`` entry point in ``pyproject.toml`` installs them when
the ``kedro`` command starts, before it imports kedro-mlflow's commands, whose import
raises the last one.
"""

from __future__ import annotations

import logging
import warnings


def install_warning_filters() -> None:
    """Ignore the third-party warnings listed here, and nothing else."""
    # OmegaConf 2.4 deprecates register_new_resolver(), which Kedro's config loader and
    # kedro-mlflow's hook still call (five warnings at the start of every run).
    warnings.filterwarnings(
        "ignore",
        message=r"register_new_resolver\(\) is deprecated",
        category=UserWarning,
        module=r"(kedro\.config\.omegaconf_config|kedro_mlflow\.framework\.hooks\.mlflow_hook)$",
    )
    # MLflow registers its local-file dataset source twice (for "" and "file" URIs), so
    # it warns on every local source of mlflow.log_input (the data set input of a run).
    warnings.filterwarnings(
        "ignore",
        message=r"The specified dataset source can be interpreted in multiple ways",
        category=UserWarning,
        module=r"mlflow\.data\.dataset_source_registry$",
    )
    # kedro-mlflow's KedroPipelineModel.predict has no type hints, and MLflow says so
    # when kedro-mlflow is imported, under its own warnings.simplefilter("once") that
    # outranks any filter here; Kedro routes warnings to the "py.warnings" logger, so
    # this one is dropped there.
    warnings_logger = logging.getLogger("py.warnings")
    if not any(isinstance(f, _PredictTypeHintNotice) for f in warnings_logger.filters):
        warnings_logger.addFilter(_PredictTypeHintNotice())


class _PredictTypeHintNotice(logging.Filter):
    """Drops MLflow's notice about kedro-mlflow's predict method without type hints."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            "Add type hints to the `predict` method" in message
            and "mlflow/pyfunc/utils/data_validation.py" in message
        )
