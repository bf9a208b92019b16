"""Bootstrap confidence intervals of a split's headline metrics, over its images.

The images of a split are resampled with replacement (``numpy.random.default_rng``
with a seed, so an interval is reproducible) and the metrics recomputed on each
resample; the interval is the percentile one (the ``(1 - confidence) / 2`` and
``(1 + confidence) / 2`` quantiles of the resampled values). Only the predictions are
resampled, never the model: the interval says how much the figure would move with
another draw of images like these, not with another training run.

A resample can leave a metric undefined (no tumour of a source group in it, say):
that resample is skipped for that metric, and where fewer than ``min_defined`` of
the resamples define it, its interval is None.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

# A metric function: (labels, probabilities, groups or None) -> {name: value or None}.
MetricFunction = Callable[
    [np.ndarray, np.ndarray, np.ndarray | None], Mapping[str, float | None]
]
# The fraction of resamples that must define a metric for it to get an interval.
MIN_DEFINED = 0.9


def bootstrap_intervals(  # noqa: PLR0917
    metric: MetricFunction,
    labels: np.ndarray,
    probabilities: np.ndarray,
    groups: np.ndarray | None,
    resamples: int,
    confidence: float,
    seed: int,
    min_defined: float = MIN_DEFINED,
) -> dict[str, tuple[float, float] | None]:
    """``{name: (low, high)}`` for every metric that ``metric`` returns on the whole
    split: the percentile interval of ``resamples`` resamples of its images, None
    where fewer than ``min_defined`` of them define the metric (or none is drawn)."""
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities)
    groups = None if groups is None else np.asarray(groups)
    names = list(metric(labels, probabilities, groups))
    n = len(labels)
    values = np.full((resamples, len(names)), np.nan)
    rng = np.random.default_rng(seed)
    for r in range(resamples if n else 0):
        index = rng.integers(0, n, n)
        drawn = metric(
            labels[index],
            probabilities[index],
            None if groups is None else groups[index],
        )
        values[r] = [_float(drawn.get(name)) for name in names]
    defined = np.isfinite(values)
    tail = 100 * (1 - confidence) / 2
    intervals: dict[str, tuple[float, float] | None] = {}
    for j, name in enumerate(names):
        column = values[defined[:, j], j]
        if resamples == 0 or len(column) < min_defined * resamples:
            intervals[name] = None
        else:
            low, high = np.percentile(column, [tail, 100 - tail])
            intervals[name] = (float(low), float(high))
    return intervals


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)


def headline_metric(
    class_names: Sequence[str],
    negative_class: str,
    group_names: Sequence[str],
    min_group_images: int,
) -> MetricFunction:
    """The headline metrics of a split, as a metric function for
    :func:`bootstrap_intervals`; its ``groups`` are indices into ``group_names``.

    The names are those of the split's metrics (``classification_metrics`` and the
    rest), flattened with ``_``:
    ``accuracy``, ``macro_f1`` (over the classes present, as ``classification_
    metrics``), ``recall_<class>``, ``tumour_sensitivity`` and ``tumour_specificity``
    (any tumour against ``negative_class``, as ``screening_metrics``) and, with
    groups, ``accuracy_<group>``, ``tumour_sensitivity_<group>``,
    ``worst_group_accuracy`` and ``group_balanced_accuracy`` (over the class x group
    cells of ``min_group_images`` images or more, as ``source_group_metrics``) and
    ``min_group_tumour_sensitivity`` (over the groups of ``min_group_images``
    tumours or more).
    Computed from one count of (group, true class, predicted class) in NumPy, so that
    a thousand resamples take a fraction of a second.
    """
    k = len(class_names)
    negative = list(class_names).index(negative_class)
    tumour = np.arange(k) != negative

    def metric(
        labels: np.ndarray, probabilities: np.ndarray, groups: np.ndarray | None
    ) -> dict[str, float | None]:
        predicted = probabilities.argmax(axis=-1)
        g = 1 if groups is None else len(group_names)
        codes = labels * k + predicted
        if groups is not None:
            codes = codes + groups * (k * k)
        # counts[group, true, predicted]
        counts = np.bincount(codes, minlength=g * k * k).reshape(g, k, k)
        values = _class_metrics(counts.sum(axis=0), class_names, tumour)
        if groups is not None:
            values.update(_group_metrics(counts, group_names, tumour, min_group_images))
        return values

    return metric


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator else None


def _class_metrics(
    confusion: np.ndarray, class_names: Sequence[str], tumour: np.ndarray
) -> dict[str, float | None]:
    """Accuracy, macro F1, recall per class and the screening metrics of a confusion
    matrix (rows true, columns predicted)."""
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    hits = np.diag(confusion)
    present = support > 0
    f1 = 2 * hits[present] / (support[present] + predicted[present])
    return {
        "accuracy": _ratio(hits.sum(), confusion.sum()),
        "macro_f1": float(f1.mean()) if present.any() else None,
        **{
            f"recall_{name}": _ratio(hits[c], support[c])
            for c, name in enumerate(class_names)
        },
        "tumour_sensitivity": _ratio(
            confusion[np.ix_(tumour, tumour)].sum(), confusion[tumour].sum()
        ),
        "tumour_specificity": _ratio(
            confusion[np.ix_(~tumour, ~tumour)].sum(), confusion[~tumour].sum()
        ),
    }


def _group_metrics(
    counts: np.ndarray,
    group_names: Sequence[str],
    tumour: np.ndarray,
    min_group_images: int,
) -> dict[str, float | None]:
    """Accuracy and tumour sensitivity per group, and the worst-group and
    group-balanced accuracy over the class x group cells of ``min_group_images``+."""
    values: dict[str, float | None] = {}
    for g, name in enumerate(group_names):
        confusion = counts[g]
        values[f"accuracy_{name}"] = _ratio(np.trace(confusion), confusion.sum())
        values[f"tumour_sensitivity_{name}"] = _ratio(
            confusion[np.ix_(tumour, tumour)].sum(), confusion[tumour].sum()
        )
    cell_images = counts.sum(axis=2)
    cell_hits = np.diagonal(counts, axis1=1, axis2=2)
    counted = (cell_images >= min_group_images) & (cell_images > 0)
    accuracy = cell_hits[counted] / cell_images[counted]
    values["worst_group_accuracy"] = float(accuracy.min()) if counted.any() else None
    values["group_balanced_accuracy"] = (
        float(accuracy.mean()) if counted.any() else None
    )
    tumours = counts[:, tumour].sum(axis=(1, 2))
    found = counts[:, tumour][:, :, tumour].sum(axis=(1, 2))
    enough = tumours >= max(min_group_images, 1)
    values["min_group_tumour_sensitivity"] = (
        float((found[enough] / tumours[enough]).min()) if enough.any() else None
    )
    return values


def headline_intervals(  # noqa: PLR0917
    labels: np.ndarray,
    probabilities: np.ndarray,
    groups: np.ndarray | None,
    class_names: Sequence[str],
    negative_class: str,
    min_group_images: int,
    resamples: int,
    confidence: float,
    seed: int,
) -> dict[str, dict[str, float | None]]:
    """``{name: {"estimate", "low", "high"}}`` of every headline metric of
    :func:`headline_metric` (None where undefined): the value on the whole split and
    its bootstrap interval (:func:`bootstrap_intervals`)."""
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities)
    group_names: list[str] = []
    codes = None
    if groups is not None:
        group_names, codes = np.unique(
            np.asarray(groups, dtype=str), return_inverse=True
        )
        group_names = [str(name) for name in group_names]
    metric = headline_metric(class_names, negative_class, group_names, min_group_images)
    estimates = metric(labels, probabilities, codes)
    intervals = bootstrap_intervals(
        metric, labels, probabilities, codes, resamples, confidence, seed
    )
    return {
        name: {
            "estimate": estimate,
            "low": None if intervals[name] is None else intervals[name][0],
            "high": None if intervals[name] is None else intervals[name][1],
        }
        for name, estimate in estimates.items()
    }
