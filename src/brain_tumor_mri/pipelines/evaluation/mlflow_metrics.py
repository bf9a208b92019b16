"""A split's metrics under their MLflow names, as the evaluation pipeline logs them."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from brain_tumor_mri.core.metrics import AVERAGES, EXTRA_SCALARS, SCALARS

# Per source group (see ``core/source_groups.py``), logged as
# ``{split}_{metric}_{group}``.
GROUP_SCALARS = ("accuracy", "tumour_sensitivity")
# Characters that MLflow refuses in a metric's name.
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-./ ]")


def metric_name(*parts: str) -> str:
    """Parts joined by ``_``, with characters MLflow refuses replaced by ``_``."""
    return _UNSAFE.sub("_", "_".join(parts))


def flatten_for_mlflow(metrics: Mapping[str, Any], split: str) -> dict[str, float]:
    """Split-prefixed scalar metrics for MLflow, undefined (None, NaN) ones left out.

    Names: ``{split}_{metric}`` (``test_accuracy``, ``test_ece``, ``test_n_samples``,
    and the ``EXTRA_SCALARS`` a split has: ``test_ece_uncalibrated``,
    ``test_tumour_sensitivity``, ``test_coverage_at_threshold``, ...),
    ``{split}_{average}_{metric}`` (``test_dedup_macro_f1``, ``val_micro_roc_auc``)
    , ``{split}_{metric}_{class}`` (``val_roc_auc_glioma_tumor``,
    ``test_precision_no_tumor``) and ``{split}_{metric}_{source group}``
    (``test_tumour_sensitivity_other_source``, ``val_accuracy_512px_source``), and
    the bounds of each bootstrap confidence interval in ``confidence_intervals``
    (see ``core/bootstrap.py``), ``{split}_{metric}_ci_low`` and ``_ci_high``
    (``test_accuracy_ci_low``, ``val_recall_glioma_tumor_ci_high``).
    """
    flat: dict[str, Any] = {
        metric_name(split, key): metrics[key] for key in ("n_samples", *SCALARS)
    }
    flat.update(
        {
            metric_name(split, key): metrics[key]
            for key in EXTRA_SCALARS
            if key in metrics
        }
    )
    for average in AVERAGES:
        short = average.removesuffix("_avg")
        for key, value in metrics[average].items():
            if key != "support":
                flat[metric_name(split, short, key)] = value
    for class_name, values in metrics["per_class"].items():
        for key, value in values.items():
            flat[metric_name(split, key, class_name)] = value
    for group, values in metrics.get("source_groups", {}).items():
        for key in GROUP_SCALARS:
            flat[metric_name(split, key, group)] = values[key]
    for key, interval in metrics.get("confidence_intervals", {}).items():
        flat[metric_name(split, key, "ci_low")] = interval["low"]
        flat[metric_name(split, key, "ci_high")] = interval["high"]
    return {
        name: float(value)
        for name, value in flat.items()
        if value is not None and not math.isnan(float(value))
    }
