"""Training against the source shortcut: validation measured per class x source group
after every epoch (so that EarlyStopping can keep the most group-robust epoch), and
loss weights that balance the class x source group cells of the training split."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import pandas as pd

from brain_tumor_mri.core.source_groups import (
    screening_figures,
    sensitivity_standard_error,
)


class GroupRobustValidation(keras.callbacks.Callback):
    """Adds the validation split's group-robust metrics to each epoch's logs.

    ``val_worst_group_accuracy`` and ``val_group_balanced_accuracy`` (over the class x
    source group cells of at least ``min_images`` images),
    ``val_min_group_tumour_sensitivity`` (over the groups of at least ``min_images``
    tumours) and ``val_min_group_tumours`` (that group's tumours),
    ``val_tumour_specificity`` and ``val_screening_score`` (the screening criterion,
    ``core.source_groups.screening_score``). A small validation split (a
    subset run) with no cell or group that large counts its largest ones.

    Put it before the callbacks that read them (EarlyStopping, the checkpoint, the
    MLflow metrics): Keras hands every callback the same logs in list order.
    """

    def __init__(
        self,
        val_cache: Mapping[str, np.ndarray],
        class_names: list[str],
        *,
        negative_class: str,
        min_images: int,
        min_specificity: float,
        batch_size: int,
    ) -> None:
        super().__init__()
        self.val_cache = val_cache
        self.class_names = class_names
        self.negative_class = negative_class
        self.min_images = min_images
        self.min_specificity = min_specificity
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
        for name, value in self.metrics(labels, probabilities).items():
            if value is not None:
                logs[f"val_{name}"] = value

    def metrics(
        self, labels: np.ndarray, probabilities: np.ndarray
    ) -> dict[str, float | None]:
        """The group-robust metrics of the validation split's probabilities."""
        return screening_figures(
            labels,
            probabilities,
            self.val_cache["groups"],
            self.class_names,
            self.negative_class,
            self.min_images,
            self.min_specificity,
        )


class ScreeningEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping by the screening criterion, with sensitivities within one standard
    error counted as tied (``screening.sensitivity_ties: standard_error``).

    An epoch is eligible when it passes the specificity guard and its lowest source
    group tumour sensitivity is within one standard error
    (``core.source_groups.sensitivity_standard_error``) of the highest one an epoch
    has reached so far. A later epoch replaces the kept one when it is eligible and
    the kept one no longer is, or when both are and its worst class x source cell
    accuracy is higher by more than ``min_delta``. Until an epoch passes the guard,
    ``val_screening_score`` decides. Reads the logs of ``GroupRobustValidation``;
    ``best`` is the kept epoch's ``val_screening_score``.
    """

    extra_state = ("kept", "most_sensitive")

    def __init__(self, *, min_specificity: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.min_specificity = min_specificity
        self.kept: dict[str, float] | None = None
        self.most_sensitive: dict[str, float] | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        self.kept = None
        self.most_sensitive = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        current = self._measures(logs or {})
        if current is None or epoch < self.start_from_epoch:
            return
        self.wait += 1
        if current["passes"] and (
            self.most_sensitive is None
            or current["sensitivity"] > self.most_sensitive["sensitivity"]
        ):
            self.most_sensitive = current
        if self._replaces_kept(current):
            self.kept = current
            self.best = current["score"]
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def _measures(self, logs: Mapping[str, Any]) -> dict[str, float] | None:
        score = logs.get("val_screening_score")
        sensitivity = logs.get("val_min_group_tumour_sensitivity")
        if score is None or sensitivity is None:
            return None
        return {
            "score": float(score),
            "sensitivity": float(sensitivity),
            "tumours": float(logs["val_min_group_tumours"]),
            "worst": float(logs.get("val_worst_group_accuracy") or 0.0),
            "passes": float(logs["val_tumour_specificity"] >= self.min_specificity),
        }

    def _eligible(self, measures: Mapping[str, float]) -> bool:
        top = self.most_sensitive
        if not measures["passes"] or top is None:
            return False
        margin = sensitivity_standard_error(top["sensitivity"], int(top["tumours"]))
        return measures["sensitivity"] >= top["sensitivity"] - margin - 1e-9

    def _replaces_kept(self, current: Mapping[str, float]) -> bool:
        kept = self.kept
        if kept is None:
            return True
        if not self._eligible(kept):
            return self._eligible(current) or current["score"] > kept["score"]
        return self._eligible(current) and current["worst"] > kept["worst"] + abs(
            self.min_delta
        )


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
