"""One self-contained HTML report of a run: tables, and figures embedded as PNG.

The page loads nothing from elsewhere (no scripts, style sheets or image files): every
figure is a ``data:image/png;base64`` URI. Every inserted string is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Mapping, Sequence
from string import Template
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from brain_tumor_mri.core.bootstrap import MIN_DEFINED
from brain_tumor_mri.core.metrics import (
    SUMMARY_COLUMNS,
    confusion_table,
    metrics_table,
    summary_table,
)
from brain_tumor_mri.pipelines.reporting.figures.common import figure_to_png
from brain_tumor_mri.pipelines.reporting.figures.dataset import leakage_counts
from brain_tumor_mri.pipelines.reporting.figures.source_groups import group_scores

SECTIONS = {
    "dataset": "Data set and leakage audit",
    "source_groups": "Source groups and the shortcut audit",
    "model": "Model and parameters",
    "training": "Training curves",
    "metrics": "Metrics per split",
    "calibration": "Calibration, review threshold and screening",
    "figures": "Figures",
    "gradcam": "Grad-CAM gallery",
}

Image = Figure | bytes

# Which split chose what; stated in the report.
SPLIT_ROLES = (
    "temperature and review threshold fitted on the validation split (the threshold "
    "in every source group of it); model epoch chosen on validation (EarlyStopping, "
    "by default by the screening criterion, docs/accuracy.md); test and test_dedup are measured only "
    "(*_adapted: the same images, the BatchNorm statistics of the model re-estimated on "
    "them, no label used; *_tent: then a few TENT steps on the BatchNorm scale and "
    "shift, no label used; *_dfr: the output layer refitted on the validation split, "
    "its strength chosen on one half of it)"
)
CALIBRATION_COLUMNS = {
    "n_samples": "images",
    "ece_uncalibrated": "ECE uncalibrated",
    "ece": "ECE calibrated",
    "log_loss_uncalibrated": "log loss uncalibrated",
    "log_loss": "log loss calibrated",
    "coverage_at_threshold": "coverage at threshold",
    "accuracy_at_threshold": "accuracy at threshold",
    "tumour_sensitivity": "tumour sensitivity",
    "tumour_specificity": "tumour specificity",
    "missed_tumours": "missed tumours",
}

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>$title</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px;
       padding: 0 1rem; color: #222; }
h1 { border-bottom: 2px solid #444; }
h2 { border-bottom: 1px solid #bbb; margin-top: 2.5rem; }
nav ul { columns: 2; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #eee; }
figure { margin: 1.2rem 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-style: italic; color: #555; }
pre { background: #f6f6f6; padding: 0.8rem; overflow-x: auto; font-size: 0.8rem; }
</style>
</head>
<body>
<h1>$title</h1>
$run_info
<nav><h2>Contents</h2><ul>$contents</ul></nav>
$sections
</body>
</html>
""")


def _text(value: Any) -> str:
    """A cell value as escaped text: floats to 4 decimals (3 significant digits when
    smaller than 0.001), lists and dicts as JSON, n/a where undefined."""
    if value is None or value is pd.NA:
        return "n/a"
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return "n/a"
        return f"{value:.4f}" if value == 0 or abs(value) >= 1e-3 else f"{value:.3g}"
    if isinstance(value, list | tuple | dict):
        return html.escape(json.dumps(value, default=str))
    return html.escape(str(value))


def html_table(frame: pd.DataFrame, index: bool = False) -> str:
    """A DataFrame as an HTML table, every header and cell escaped."""
    columns = ([frame.index.name or ""] if index else []) + list(frame.columns)
    head = "".join(f"<th>{_text(c)}</th>" for c in columns)
    rows = []
    for label, row in zip(frame.index, frame.itertuples(index=False), strict=True):
        cells = ([f"<th>{_text(label)}</th>"] if index else []) + [
            f"<td>{_text(v)}</td>" for v in row
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _key_values(values: Mapping[str, Any], key: str, value: str) -> str:
    return html_table(pd.DataFrame({key: list(values), value: list(values.values())}))


def image_tag(image: Image, alt: str) -> str:
    """An ``<img>`` with the figure (or PNG bytes) embedded as a base64 data URI."""
    png = image if isinstance(image, bytes) else figure_to_png(image)
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _figures(figures: Mapping[str, Image]) -> str:
    return "\n".join(
        f"<figure>{image_tag(image, caption)}"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for caption, image in figures.items()
    )


def flatten_parameters(
    parameters: Mapping[str, Any], prefix: str = ""
) -> dict[str, Any]:
    """Nested parameters as ``{"a.b.c": value}``."""
    flat: dict[str, Any] = {}
    for key, value in parameters.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_parameters(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _section(key: str, body: str) -> str:
    return f'<section id="{key}">\n<h2>{html.escape(SECTIONS[key])}</h2>\n{body}\n</section>'


def _dataset_section(
    leakage_summary: Mapping[str, Any],
    class_counts: pd.DataFrame,
    figures: Mapping[str, Image],
) -> str:
    return "\n".join(
        [
            "<h3>Images per class and split</h3>",
            html_table(class_counts, index=True),
            "<h3>Leakage audit</h3>",
            _key_values(leakage_counts(leakage_summary), "finding", "count"),
            _figures(figures),
        ]
    )


def _source_group_section(
    shortcut_audit: Mapping[str, Any] | None,
    group_counts: pd.DataFrame | None,
    metrics_by_split: Mapping[str, Mapping[str, Any]],
    figures: Mapping[str, Image],
) -> str:
    parts = []
    if group_counts is not None:
        parts += [
            "<h3>Images per class, split and source group</h3>",
            html_table(group_counts, index=True),
        ]
    if shortcut_audit:
        parts += _shortcut_audit_part(shortcut_audit)
    scores = group_scores(metrics_by_split)
    if not scores.empty:
        parts += [
            "<h3>The model per source group</h3>",
            html_table(scores),
            html_table(_robustness_table(metrics_by_split)),
        ]
    return "\n".join(parts) + _figures(figures)


def _shortcut_audit_part(shortcut_audit: Mapping[str, Any]) -> list[str]:
    """The metadata-only baseline of the shortcut audit, with its verdict."""
    baseline = shortcut_audit["metadata_baseline"]
    rows = [{"split": split, **scores} for split, scores in baseline["splits"].items()]
    verdict = (
        "Metadata alone predicts the validation class far above the majority "
        "class: the labels can be read off how the images were made. Judge the "
        "model per source group, not by its overall accuracy."
        if shortcut_audit["shortcut_suspected"]
        else "Metadata alone does not predict the validation class much better "
        "than the majority class."
    )
    return [
        "<h3>Metadata-only baseline</h3>",
        "<p>A gradient-boosted tree model on "
        + html.escape(", ".join(baseline["features"]))
        + f" alone, fitted on train. <strong>{html.escape(verdict)}</strong></p>",
        html_table(
            pd.DataFrame(
                rows,
                columns=[
                    "split",
                    "images",
                    "accuracy",
                    "majority_accuracy",
                    "tumour_roc_auc",
                ],
            )
        ),
    ]


def _robustness_table(
    metrics_by_split: Mapping[str, Mapping[str, Any]],
) -> pd.DataFrame:
    """Worst-group and group-balanced accuracy of each split."""
    return pd.DataFrame(
        [
            {
                "split": split,
                "worst-group accuracy": m.get("worst_group_accuracy"),
                "worst group (class / source)": m.get("worst_group"),
                "group-balanced accuracy": m.get("group_balanced_accuracy"),
                "cells counted (images at least)": m.get("min_group_images"),
            }
            for split, m in metrics_by_split.items()
        ]
    )


def _model_section(parameters: Mapping[str, Any], model_summary: str | None) -> str:
    parts = [_key_values(flatten_parameters(parameters), "parameter", "value")]
    if model_summary:
        parts.append(
            "<details><summary>Model summary</summary>"
            f"<pre>{html.escape(model_summary)}</pre></details>"
        )
    return "\n".join(parts)


def _training_section(
    history: Mapping[str, Sequence[float]], figures: Mapping[str, Image]
) -> str:
    if not history:
        return "<p>No training history.</p>" + _figures(figures)
    table = pd.DataFrame({k: list(v) for k, v in history.items()})
    return _figures(figures) + "\n<h3>Per epoch</h3>\n" + html_table(table)


def _with_interval(value: Any, interval: Mapping[str, Any] | None) -> Any:
    """``value (low–high)`` where the interval is defined, else the value."""
    if not interval or interval.get("low") is None or interval.get("high") is None:
        return value
    return f"{_text(value)} ({_text(interval['low'])}–{_text(interval['high'])})"


def _summary_with_intervals(
    metrics_by_split: Mapping[str, Mapping[str, Any]],
) -> pd.DataFrame:
    """``summary_table``, each headline metric with its bootstrap interval."""
    table = summary_table(metrics_by_split)
    for key, column in SUMMARY_COLUMNS.items():
        table[column] = [
            _with_interval(value, metrics.get("confidence_intervals", {}).get(key))
            for value, metrics in zip(
                table[column], metrics_by_split.values(), strict=True
            )
        ]
    return table


def _interval_table(
    metrics_by_split: Mapping[str, Mapping[str, Any]],
) -> pd.DataFrame:
    """One row per headline metric (its MLflow name without the split), one column
    per split: the value and its bootstrap interval."""
    names = list(
        dict.fromkeys(
            name
            for metrics in metrics_by_split.values()
            for name in metrics.get("confidence_intervals", {})
        )
    )
    table = pd.DataFrame(
        {
            split: [
                _with_interval(
                    metrics["confidence_intervals"][name]["estimate"],
                    metrics["confidence_intervals"][name],
                )
                if name in metrics.get("confidence_intervals", {})
                else None
                for name in names
            ]
            for split, metrics in metrics_by_split.items()
        },
        index=pd.Index(names, name="metric"),
    )
    return table


def _intervals_part(metrics_by_split: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The bootstrap intervals of every split, with how they were drawn."""
    drawn = [m["bootstrap"] for m in metrics_by_split.values() if "bootstrap" in m]
    if not drawn:
        return []
    confidence, resamples = drawn[0]["confidence"], drawn[0]["resamples"]
    return [
        f"<h3>Headline metrics with {100 * confidence:g} % confidence intervals</h3>",
        f"<p>Percentile bootstrap over the images of each split ({resamples} "
        f"resamples, seed {html.escape(str(drawn[0]['seed']))}): the predictions are "
        "resampled, not the model, so an interval shows how much a figure would move "
        "with another draw of images like these, not with another training run. "
        f"n/a: undefined on the split, or in more than {1 - MIN_DEFINED:.0%} of the "
        "resamples (a source group without tumours, say).</p>",
        html_table(_interval_table(metrics_by_split), index=True),
    ]


def _metrics_section(metrics_by_split: Mapping[str, Mapping[str, Any]]) -> str:
    parts = [
        "<h3>Summary</h3>",
        html_table(_summary_with_intervals(metrics_by_split)),
        *_intervals_part(metrics_by_split),
    ]
    for split, metrics in metrics_by_split.items():
        parts += [
            f"<h3>{html.escape(split)}: per class</h3>",
            html_table(metrics_table(metrics)),
            f"<h3>{html.escape(split)}: confusion matrix (rows true, columns predicted)</h3>",
            html_table(confusion_table(metrics), index=True),
        ]
    return "\n".join(parts)


def _kept(calibration: Mapping[str, Any]) -> str:
    """How many validation images the threshold keeps, of how many."""
    total = calibration.get("fitted_on_images")
    coverage = calibration.get("coverage_at_threshold")
    if total is None or coverage is None:
        return "n/a"
    return f"{round(coverage * total)} of {total}"


def _negative(metrics_by_split: Mapping[str, Mapping[str, Any]]) -> str:
    for metrics in metrics_by_split.values():
        if metrics.get("negative_class"):
            return str(metrics["negative_class"])
    return "the negative class"


def _calibration_section(
    calibration: Mapping[str, Any] | None,
    metrics_by_split: Mapping[str, Mapping[str, Any]],
) -> str:
    parts = [
        f"<p><strong>Which split chose what:</strong> {html.escape(SPLIT_ROLES)}.</p>"
    ]
    if calibration:
        threshold = calibration["confidence_threshold"]
        parts += [
            _key_values(
                {
                    "temperature (T)": calibration["temperature"],
                    "fitted on": calibration.get("fitted_on", "val"),
                    "validation NLL uncalibrated": calibration.get("nll_uncalibrated"),
                    "validation NLL calibrated": calibration.get("nll_calibrated"),
                    "review threshold (calibrated confidence)": threshold,
                    "target accuracy on validation": calibration["target_accuracy"],
                    "target reached": calibration["target_reached"],
                    "validation images kept at the threshold": _kept(calibration),
                },
                "calibration",
                "value",
            ),
            "<p>Calibrated probabilities are softmax(log(p) / T); the predicted class "
            "is unchanged. A prediction needs review when its confidence (highest "
            "calibrated probability) is under the threshold"
            + (
                "."
                if calibration["target_reached"]
                else ": no threshold reached the target accuracy on validation, so "
                "every prediction is flagged."
            )
            + " Coverage is the fraction of predictions not flagged; screening "
            f"compares any tumour against {html.escape(_negative(metrics_by_split))}."
            "</p>",
        ]
    rows = [
        {
            "split": split,
            **{name: metrics.get(key) for key, name in CALIBRATION_COLUMNS.items()},
        }
        for split, metrics in metrics_by_split.items()
    ]
    parts.append(
        html_table(pd.DataFrame(rows, columns=["split", *CALIBRATION_COLUMNS.values()]))
    )
    return "\n".join(parts)


def render_html_report(
    *,
    title: str,
    run_info: Mapping[str, Any],
    leakage_summary: Mapping[str, Any],
    class_counts: pd.DataFrame,
    shortcut_audit: Mapping[str, Any] | None = None,
    group_counts: pd.DataFrame | None = None,
    source_group_figures: Mapping[str, Image] | None = None,
    parameters: Mapping[str, Any],
    training_history: Mapping[str, Sequence[float]],
    metrics_by_split: Mapping[str, Mapping[str, Any]],
    dataset_figures: Mapping[str, Image],
    calibration: Mapping[str, Any] | None = None,
    training_figures: Mapping[str, Image],
    evaluation_figures: Mapping[str, Image],
    gradcam_figures: Mapping[str, Image],
    model_summary: str | None = None,
) -> str:
    """The whole report as one HTML string; figure mappings are caption -> figure."""
    sections = [
        _section(
            "dataset", _dataset_section(leakage_summary, class_counts, dataset_figures)
        ),
        _section(
            "source_groups",
            _source_group_section(
                shortcut_audit,
                group_counts,
                metrics_by_split,
                source_group_figures or {},
            ),
        ),
        _section("model", _model_section(parameters, model_summary)),
        _section("training", _training_section(training_history, training_figures)),
        _section("metrics", _metrics_section(metrics_by_split)),
        _section("calibration", _calibration_section(calibration, metrics_by_split)),
        _section("figures", _figures(evaluation_figures) or "<p>No figures.</p>"),
        _section("gradcam", _figures(gradcam_figures) or "<p>No Grad-CAM figures.</p>"),
    ]
    contents = "".join(
        f'<li><a href="#{key}">{html.escape(name)}</a></li>'
        for key, name in SECTIONS.items()
    )
    return PAGE.substitute(
        title=html.escape(title),
        run_info=_key_values({**run_info, "splits": SPLIT_ROLES}, "run", "value"),
        contents=contents,
        sections="\n".join(sections),
    )
