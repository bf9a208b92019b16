"""What every way of predicting shares: the model's input size, the batched forward
pass, and the table of calibrated answers (batch inference and the served model)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd

from brain_tumor_mri.core.calibration import apply_temperature, needs_review

logger = logging.getLogger(__name__)

REVIEW_COLUMN = "needs_review"


def model_input_size(model: keras.Model) -> tuple[int, int]:
    """The (height, width) of the model's input: the size every image is resized to."""
    height, width = model.input_shape[1:3]
    return int(height), int(width)


def predict_in_batches(
    model: keras.Model, images: np.ndarray, batch_size: int, mirror: bool = False
) -> np.ndarray:
    """The model's (n, classes) float32 outputs for ``images``, ``batch_size`` at a time.

    ``predict_on_batch`` per batch: the same numbers as ``model.predict`` with that
    batch size, without its per-call cost (a ``tf.data`` pipeline and a progress
    loop), which dominates for one small batch. With ``mirror`` each output is the
    mean of those of the image and of its horizontal mirror (test-time augmentation).
    """
    batches = []
    for start in range(0, len(images), batch_size):
        batch = np.asarray(images[start : start + batch_size])
        outputs = np.asarray(model.predict_on_batch(batch), dtype=np.float64)
        if mirror:
            mirrored = np.ascontiguousarray(batch[:, :, ::-1])
            outputs += np.asarray(model.predict_on_batch(mirrored), dtype=np.float64)
            outputs /= 2
        batches.append(outputs.astype(np.float32))
    if not batches:
        return np.zeros((0, int(model.output_shape[-1])), dtype=np.float32)
    return np.concatenate(batches)


def probability_columns(classes: Sequence[str]) -> list[str]:
    """The name of each class's probability column, in class order."""
    return [f"probability_{name}" for name in classes]


def prediction_frame(
    probabilities: np.ndarray,
    classes: Sequence[str],
    calibration: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The predicted class, the calibrated probability of each class and
    ``needs_review``, one row per image.

    ``probabilities`` are the model's own; ``calibration`` (``calibration.json``)
    gives the temperature and the review threshold. Without it the probabilities stay
    as they are and every row needs review.
    """
    if probabilities.shape[-1] != len(classes):
        raise ValueError(
            f"The model has {probabilities.shape[-1]} outputs but {len(classes)} classes "
            f"are configured ({list(classes)})."
        )
    temperature = float((calibration or {}).get("temperature", 1.0))
    calibrated = apply_temperature(probabilities, temperature)
    frame = pd.DataFrame(calibrated, columns=probability_columns(classes))
    frame.insert(0, "predicted_class", np.asarray(classes)[calibrated.argmax(-1)])
    frame[REVIEW_COLUMN] = needs_review(calibrated, calibration)
    return frame


def model_image_preprocessing(
    calibration: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """The ``image_preprocessing`` a model was trained with, from what travels with it
    (``calibration.json``); None (images used as decoded) for a model from before it
    was recorded, which the log says."""
    preprocessing = (calibration or {}).get("image_preprocessing")
    if preprocessing is None:
        logger.warning(
            "The model does not record its image_preprocessing: images are used as "
            "decoded, without crop or intensity normalisation."
        )
    return preprocessing
