"""The shortcut audit: can the labels be read off how the images were made?

Per image, acquisition metadata that the manifest holds cheaply (native size, bytes
per pixel, colour mode, JPEG quality, the width of the black frame around the head),
and a small scikit-learn model fitted on those features alone. If metadata alone
predicts the class far above the majority baseline, a model trained on the pixels can
do the same without looking at the anatomy.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, roc_auc_score

# The IJG (libjpeg) luminance quantisation table at quality 50, in any order: only its
# sum is used.
_IJG_LUMINANCE = (
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55]
    + [14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62]
    + [18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92]
    + [49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
)
FEATURES = (
    "width",
    "height",
    "aspect_ratio",
    "bytes_per_pixel",
    "colour_mode",
    "jpeg_quality",
    "frame_width",
)


def jpeg_quality(data: bytes) -> float | None:
    """The IJG quality (1-100) whose luminance table best matches the file's, from the
    table's sum; None for a file that is not a JPEG."""
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
            table = image.quantization.get(0)
    except (OSError, ValueError, SyntaxError):
        return None
    if not table:
        return None
    scale = 100 * sum(table) / sum(_IJG_LUMINANCE)
    quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
    return float(np.clip(quality, 1, 100))


def frame_width(gray: np.ndarray, threshold: float = 0.1) -> float:
    """The mean width of the dark frame around the head on the four sides, as a
    fraction of the image's side (the head: pixels above ``threshold`` times the
    99th percentile)."""
    level = max(1.0, threshold * float(np.percentile(gray, 99)))
    rows = np.flatnonzero((gray > level).any(axis=1))
    cols = np.flatnonzero((gray > level).any(axis=0))
    if rows.size == 0 or cols.size == 0:
        return 0.5
    height, width = gray.shape
    vertical = (rows[0] + height - 1 - rows[-1]) / height
    horizontal = (cols[0] + width - 1 - cols[-1]) / width
    return float((vertical + horizontal) / 4)


def metadata_features(table: pd.DataFrame) -> pd.DataFrame:
    """The numeric features of ``FEATURES`` from the manifest's columns (NaN where a
    value is unknown, e.g. the JPEG quality of a PNG)."""
    width = table["width"].astype(float)
    height = table["height"].astype(float)
    return pd.DataFrame(
        {
            "width": width,
            "height": height,
            "aspect_ratio": width / height,
            "bytes_per_pixel": table["size_bytes"].astype(float) / (width * height),
            "colour_mode": pd.Categorical(table["mode"]).codes.astype(float),
            "jpeg_quality": table["jpeg_quality"].astype(float),
            "frame_width": table["frame_width"].astype(float),
        },
        index=table.index,
    )


def class_group_table(data_split: pd.DataFrame) -> pd.DataFrame:
    """Images per split, class and source group (long format)."""
    return (
        data_split.groupby(["split", "label", "source_group"])
        .size()
        .rename("images")
        .reset_index()
    )


def _scores(
    model: HistGradientBoostingClassifier,
    features: pd.DataFrame,
    labels: pd.Series,
    negative_class: str,
) -> dict[str, float | None]:
    if labels.empty:
        return {"accuracy": None, "tumour_roc_auc": None}
    probabilities = model.predict_proba(features)
    classes = list(model.classes_)
    tumour = (labels != negative_class).to_numpy()
    tumour_score = (
        1 - probabilities[:, classes.index(negative_class)]
        if negative_class in classes
        else np.ones(len(labels))
    )
    return {
        "accuracy": float(accuracy_score(labels, model.predict(features))),
        "tumour_roc_auc": float(roc_auc_score(tumour, tumour_score))
        if 0 < tumour.sum() < len(tumour)
        else None,
    }


def metadata_baseline(
    data_split: pd.DataFrame, negative_class: str, seed: int
) -> dict[str, Any]:
    """A gradient-boosted tree model on the metadata features alone, fitted on
    ``train`` and scored on ``val``, ``test`` and ``test_dedup``, beside the
    majority-class baseline."""
    features = metadata_features(data_split)
    train = data_split["split"] == "train"
    majority = data_split.loc[train, "label"].value_counts().idxmax()
    model = HistGradientBoostingClassifier(
        max_depth=3, min_samples_leaf=5, random_state=seed
    )
    model.fit(features[train], data_split.loc[train, "label"])
    scores = {}
    evaluated = {
        split: data_split["split"] == split
        for split in ("val", "test")
        if (data_split["split"] == split).any()
    }
    if "test" in evaluated:
        evaluated["test_dedup"] = evaluated["test"] & data_split["test_dedup"].astype(
            bool
        )
    for split, rows in evaluated.items():
        scores[split] = {
            **_scores(
                model, features[rows], data_split.loc[rows, "label"], negative_class
            ),
            "majority_accuracy": float(
                (data_split.loc[rows, "label"] == majority).mean()
            )
            if rows.any()
            else None,
            "images": int(rows.sum()),
        }
    return {"features": list(FEATURES), "majority_class": majority, "splits": scores}


def audit_summary(
    data_split: pd.DataFrame,
    baseline: Mapping[str, Any],
    warn_above_majority: float,
    split: str = "val",
) -> dict[str, Any]:
    """Whether metadata alone predicts ``split``'s class more than
    ``warn_above_majority`` above the majority baseline."""
    scores = baseline["splits"].get(split, {})
    accuracy, majority = scores.get("accuracy"), scores.get("majority_accuracy")
    flagged = (
        accuracy is not None
        and majority is not None
        and accuracy - majority > warn_above_majority
    )
    return {
        "judged_on": split,
        "warn_above_majority": float(warn_above_majority),
        "shortcut_suspected": bool(flagged),
    }


def mlflow_metrics(baseline: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """``metadata_baseline_{split}_{accuracy,tumour_roc_auc,majority_accuracy}`` in
    the shape of kedro-mlflow's ``MlflowMetricsHistoryDataset``."""
    return {
        f"metadata_baseline_{split}_{name}": {"value": float(value), "step": 0}
        for split, scores in baseline["splits"].items()
        for name in ("accuracy", "tumour_roc_auc", "majority_accuracy")
        if (value := scores.get(name)) is not None
    }


def group_counts(
    data_split: pd.DataFrame, classes: Sequence[str]
) -> dict[str, dict[str, dict[str, int]]]:
    """``{split: {class: {group: images}}}`` for the report and the JSON summary."""
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for row in class_group_table(data_split).itertuples():
        counts.setdefault(row.split, {name: {} for name in classes})
        counts[row.split].setdefault(row.label, {})[row.source_group] = int(row.images)
    return counts
