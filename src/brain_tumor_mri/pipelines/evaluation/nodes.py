"""Nodes of the evaluation pipeline: class probabilities per split, and their metrics."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from brain_tumor_mri.classes import class_names, folder_to_class
from brain_tumor_mri.images import ImageReadError, load_rgb
from brain_tumor_mri.metrics import (
    classification_metrics,
    confusion_table,
    flatten_for_mlflow,
    metrics_table,
    summary_table,
)

logger = logging.getLogger(__name__)

# Names that the training run already uses for Keras' per-epoch histories; the
# evaluation of the final model on the validation split gets a suffix instead, so
# that it neither adds a point to those histories nor hides behind them in the UI.
EPOCH_HISTORY_NAMES = ("val_accuracy", "val_loss")


def predict_probabilities(
    model: keras.Model, split_cache: Mapping[str, np.ndarray], params: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """Softmax probabilities of every image of a split, batch by batch.

    With ``params["tta_flip"]`` the probabilities are the mean of those of the image
    and of its horizontal mirror (test-time augmentation). Returns
    ``{"probabilities": (n, k) float32, "labels": (n,) int64, "paths": (n,) str}``.
    """
    images = split_cache["images"]
    batch_size = int(params.get("batch_size", 32))
    batches = []
    for start in range(0, len(images), batch_size):
        batch = np.asarray(images[start : start + batch_size])
        probabilities = np.asarray(model.predict_on_batch(batch), dtype=np.float64)
        if params.get("tta_flip", False):
            mirrored = np.ascontiguousarray(batch[:, :, ::-1])
            probabilities += np.asarray(model.predict_on_batch(mirrored), np.float64)
            probabilities /= 2
        batches.append(probabilities.astype(np.float32))
    num_classes = int(model.output_shape[-1])
    return {
        "probabilities": np.concatenate(batches)
        if batches
        else np.zeros((0, num_classes), dtype=np.float32),
        "labels": np.asarray(split_cache["labels"], dtype=np.int64),
        "paths": np.asarray(split_cache["paths"], dtype=str),
    }


def evaluate_predictions(
    predictions: Mapping[str, np.ndarray],
    classes: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """Every metric of one split (see ``classification_metrics``); {} for an empty split."""
    if len(predictions["labels"]) == 0:
        return {}
    return classification_metrics(
        predictions["labels"],
        predictions["probabilities"],
        class_names(classes),
        ece_bins=int(params.get("ece_bins", 15)),
    )


def collect_metrics(
    **metrics_by_split: Mapping[str, Any],
) -> tuple[dict, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, dict[str, float]]]:
    """The metrics of every evaluated split, as JSON, three tables and MLflow metrics.

    Keyword names are the splits (``val``, ``test``, ``test_dedup``, ``external``);
    empty splits (an absent external test set) are left out. Returns the metrics by
    split, one summary row per split, the per-class table and the confusion matrices
    (long format) of every split, and ``{name: {"value": v, "step": 0}}`` for
    kedro-mlflow's ``MlflowMetricsHistoryDataset``.
    """
    evaluated = {split: dict(m) for split, m in metrics_by_split.items() if m}
    per_class = [
        metrics_table(metrics).assign(split=split)
        for split, metrics in evaluated.items()
    ]
    confusion = [
        confusion_table(metrics)
        .stack()
        .rename("count")
        .reset_index()
        .assign(split=split)
        for split, metrics in evaluated.items()
    ]
    mlflow_metrics = {
        f"{name}_final" if name in EPOCH_HISTORY_NAMES else name: {
            "value": value,
            "step": 0,
        }
        for split, metrics in evaluated.items()
        for name, value in flatten_for_mlflow(metrics, split).items()
    }
    for split, metrics in evaluated.items():
        logger.info(
            "%s: accuracy %.4f, macro F1 %.4f, macro ROC AUC %s, ECE %.4f (%d images).",
            split,
            metrics["accuracy"],
            metrics["macro_avg"]["f1"],
            metrics["macro_avg"]["roc_auc"],
            metrics["ece"],
            metrics["n_samples"],
        )
    return (
        evaluated,
        summary_table(evaluated),
        _front(pd.concat(per_class, ignore_index=True), "split")
        if per_class
        else pd.DataFrame(),
        _front(pd.concat(confusion, ignore_index=True), "split")
        if confusion
        else pd.DataFrame(),
        mlflow_metrics,
    )


def _front(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame[[column, *(c for c in frame.columns if c != column)]]


def load_external_test_set(
    classes: Sequence[Mapping[str, Any]],
    image_size: Sequence[int],
    params: Mapping[str, Any],
) -> dict[str, np.ndarray]:
    """The images of ``params["external_test_dir"]``, one sub-folder per class (names
    or aliases), resized like the cached splits; empty arrays when it is not set.

    Sub-folders that match no class and files that are not readable images are
    skipped with a warning.
    """
    size = (int(image_size[0]), int(image_size[1]))
    images, labels, paths = [], [], []
    folder = params.get("external_test_dir")
    if folder:
        root = Path(folder)  # an existing folder: the parameter check saw to it
        index = {name: i for i, name in enumerate(class_names(classes))}
        for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            name = folder_to_class(class_dir.name, classes)
            if name is None:
                logger.warning("Ignoring '%s': it matches no class.", class_dir)
                continue
            for file in sorted(p for p in class_dir.rglob("*") if p.is_file()):
                try:
                    images.append(load_rgb(file.read_bytes(), size))
                except ImageReadError as error:
                    logger.warning("Skipping '%s': %s", file, error)
                    continue
                labels.append(index[name])
                paths.append(file.relative_to(root).as_posix())
        logger.info("External test set: %d images from '%s'.", len(images), root)
    return {
        "images": np.stack(images) if images else np.zeros((0, *size, 3), np.uint8),
        "labels": np.asarray(labels, dtype=np.int64),
        "paths": np.asarray(paths, dtype=str),
    }
