"""Nodes of the model construction pipeline."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import keras

from brain_tumor_mri.config.base import typed_params
from brain_tumor_mri.core.classes import class_names
from brain_tumor_mri.core.model import build_classifier
from brain_tumor_mri.pipelines.model_construction.params import ModelConstructionParams

logger = logging.getLogger(__name__)


@typed_params
def build_model(
    image_size: list[int],
    classes: Sequence[Mapping[str, Any]],
    seed: int,
    params: ModelConstructionParams,
) -> keras.Model:
    """The untrained ResNet-50 classifier, its backbone weights as ``params.weights`` says."""
    keras.utils.set_random_seed(seed)
    model = build_classifier(
        image_size, len(class_names(classes)), params.head.model_dump(), params.weights
    )
    logger.info(
        "Built %s on %sx%s images, %s backbone weights: %s parameters.",
        model.name,
        *image_size,
        params.weights or "randomly initialised",
        f"{model.count_params():,}",
    )
    return model


@typed_params
def describe_backbone(params: ModelConstructionParams) -> dict[str, str | None]:
    """Where the backbone's weights come from, ``{"weights": ...}``: ``imagenet``, a
    weights file, or None (random). The training recipe depends on it."""
    return {"weights": params.weights}


def summarise_model(model: keras.Model) -> str:
    """The model's layer-by-layer summary as text."""
    lines: list[str] = []
    model.summary(line_length=120, print_fn=lambda text, **_: lines.append(text))
    return "".join(lines)
