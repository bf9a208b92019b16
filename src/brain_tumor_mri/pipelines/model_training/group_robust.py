"""Training against the source shortcut: validation measured per class x source group
after every epoch (so that EarlyStopping can keep the most group-robust epoch), and
loss weights that balance the class x source group cells of the training split."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import pandas as pd

from brain_tumor_mri.core.source_groups import group_cells, group_robust_accuracy


class GroupRobustValidation(keras.callbacks.Callback):
    """Adds ``val_worst_group_accuracy`` and ``val_group_balanced_accuracy`` (over the
    class x source group cells of at least ``min_images`` validation images, or of the
    largest cells' size where none is that large) to each epoch's logs.

    Put it before the callbacks that read them (EarlyStopping, the checkpoint, the
    MLflow metrics): Keras hands every callback the same logs in list order.
    """

    def __init__(
        self,
        val_cache: Mapping[str, np.ndarray],
        class_names: list[str],
        min_images: int,
        batch_size: int,
    ) -> None:
        super().__init__()
        self.val_cache = val_cache
        self.class_names = class_names
        self.min_images = min_images
        self.batch_size = batch_size

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        labels = np.asarray(self.val_cache["labels"])
        if logs is None or len(labels) == 0:
            return
        images = self.val_cache["images"]
        # A plain call in the cross-replica context: works under every tf.distribute
        # strategy, where predict_on_batch does not.
        probabilities = np.concatenate(
            [
                keras.ops.convert_to_numpy(
                    self.model(
                        np.asarray(images[start : start + self.batch_size]),
                        training=False,
                    )
                )
                for start in range(0, len(images), self.batch_size)
            ]
        )
        cells = group_cells(
            labels,
            probabilities.argmax(axis=-1) == labels,
            self.val_cache["groups"],
            self.class_names,
        )
        # A small validation split (a subset run) may have no cell of min_images:
        # then its largest cells count.
        robust = group_robust_accuracy(
            cells, min(self.min_images, int(cells["images"].max()))
        )
        for name in ("worst_group_accuracy", "group_balanced_accuracy"):
            if robust[name] is not None:
                logs[f"val_{name}"] = robust[name]


def group_balanced_weights(
    labels: np.ndarray, groups: np.ndarray, cap: float
) -> np.ndarray:
    """One loss weight per image: ``n / (cells * cell size)`` for its class x source
    group cell, at most ``cap``, then scaled to a mean of 1 over the images."""
    cell = pd.Series(
        list(zip(np.asarray(labels), np.asarray(groups, dtype=str), strict=True))
    )
    sizes = cell.map(cell.value_counts()).to_numpy(dtype=float)
    weights = np.minimum(len(cell) / (cell.nunique() * sizes), cap)
    return (weights / weights.mean()).astype(np.float32)


def describe_weights(
    labels: np.ndarray, groups: np.ndarray, weights: np.ndarray, class_names: list[str]
) -> dict[str, Any]:
    """The weight of each class x source group cell, for the log."""
    frame = pd.DataFrame(
        {
            "cell": [
                f"{class_names[label]} / {group}"
                for label, group in zip(labels, groups, strict=True)
            ],
            "weight": weights,
        }
    )
    return frame.groupby("cell")["weight"].first().round(3).to_dict()
