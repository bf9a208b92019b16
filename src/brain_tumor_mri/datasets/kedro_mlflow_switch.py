"""kedro-mlflow's logging switch: the one place that names its private attribute.

kedro-mlflow turns logging off for the pipelines listed in ``disable_tracking.pipelines``
of ``conf/base/mlflow.yml`` (here: inference) by setting ``_logging_activated = False``
on every catalog dataset whose class name starts with ``Mlflow``
(``kedro_mlflow.io.catalog.switch_catalog_logging``), and back to ``True`` after the
run. kedro-mlflow 2.0 has no public API for it, so the project's ``Mlflow*`` datasets
inherit ``MlflowLoggingSwitch`` and read ``logging_activated`` only.
``tests/datasets/test_kedro_mlflow_switch.py`` runs kedro-mlflow's own switch on each of
them and fails when it stops reaching them (a renamed attribute in a new kedro-mlflow).
"""

from __future__ import annotations


class MlflowLoggingSwitch:
    """Mixin of a dataset that kedro-mlflow may switch off for untracked pipelines."""

    # Private to kedro-mlflow: the attribute its switch_catalog_logging sets.
    _logging_activated: bool = True

    @property
    def logging_activated(self) -> bool:
        """False while kedro-mlflow has turned logging off for the running pipeline."""
        return self._logging_activated
