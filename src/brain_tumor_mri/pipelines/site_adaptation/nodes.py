"""Nodes of the site adaptation pipeline: read a site's unlabelled images, adapt the
model's BatchNormalization layers to them, measure what changed, register the result.

No file name of the site reaches a log, a tag, a parameter or an artifact: the
folder is described by its number of images, the reasons its other files could not
be read (counted), and a fingerprint of the images' contents.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd

from brain_tumor_mri.config.base import typed_params
from brain_tumor_mri.config.shared import ImageInputParams
from brain_tumor_mri.core.adaptation import (
    adapt_batch_norm,
    batch_norm_shift,
    batch_norm_statistics,
    summarise_shift,
    tent_adapt,
)
from brain_tumor_mri.core.classes import class_names
from brain_tumor_mri.core.images.batches import load_images
from brain_tumor_mri.core.images.encoding import png_bytes
from brain_tumor_mri.core.prediction import (
    REVIEW_COLUMN,
    model_image_preprocessing,
    model_input_size,
    predict_in_batches,
    prediction_frame,
)
from brain_tumor_mri.datasets.mlflow_model_version_dataset import SourceModel
from brain_tumor_mri.pipelines.site_adaptation.params import SiteAdaptationParams
from brain_tumor_mri.serving.image_classifier import ServableModel
from brain_tumor_mri.serving.request import INPUT_COLUMN, RequestLimits

logger = logging.getLogger(__name__)

Loader = Callable[[], bytes]
TAG_PREFIX = "site_adaptation."
REVIEW_THRESHOLD_NOTE = (
    "The temperature and the review threshold are the source model's, fitted on its "
    "validation split: they are not refitted, as the site has no labels. Their "
    "accuracy target is not guaranteed on the site's images; check a labelled "
    "sample of the site before relying on needs_review (docs/site_adaptation.md)."
)


def _hashing_reader(load: Loader, key: str, hashes: dict[str, str]) -> Loader:
    """``load``, which also records the sha256 of the bytes it read under ``key``."""

    def read() -> bytes:
        data = load()
        hashes[key] = hashlib.sha256(data).hexdigest()
        return data

    return read


def content_fingerprint(file_hashes: Sequence[str]) -> str:
    """The sha256 of the sorted sha256 digests of the files: the same images give the
    same fingerprint whatever their names, folders or order."""
    return hashlib.sha256("\n".join(sorted(file_hashes)).encode()).hexdigest()


@typed_params
def read_site_images(
    site_images: Mapping[str, Loader],
    site_source_model: SourceModel,
    image_input: ImageInputParams,
) -> dict[str, Any]:
    """Every image of the site, prepared as the model's training run prepared its
    own (the shared loader, its limits and reasons), in memory only.

    Returns ``{"images": (n, h, w, 3) uint8, "fingerprint": sha256 of the images'
    contents, "files": number of files, "unreadable": {reason: number of files}}``.
    A file that cannot be read is skipped and its reason counted; a folder with no
    readable image stops the run.
    """
    hashes: dict[str, str] = {}
    decoded = load_images(
        {
            key: _hashing_reader(site_images[key], key, hashes)
            for key in sorted(site_images)
        },
        model_input_size(site_source_model.model),
        model_image_preprocessing(site_source_model.calibration),
        image_input.max_image_pixels,
        image_input.image_formats,
    )
    unreadable = dict(sorted(Counter(decoded.errors.values()).items()))
    for reason, count in unreadable.items():
        logger.warning("Skipped %d file(s) of the site folder: %s", count, reason)
    if not decoded.keys:
        raise ValueError(
            f"None of the {len(site_images)} files of the site folder is a readable "
            "image (reasons above): nothing to adapt to."
        )
    fingerprint = content_fingerprint([hashes[key] for key in decoded.keys])
    logger.info(
        "Read %d images of the %d files of the site folder (%d skipped); "
        "fingerprint %s.",
        len(decoded.keys),
        len(site_images),
        len(decoded.errors),
        fingerprint,
    )
    return {
        "images": decoded.images,
        "fingerprint": fingerprint,
        "files": len(site_images),
        "unreadable": unreadable,
    }


def method_settings(params: SiteAdaptationParams, seed: int) -> dict[str, Any]:
    """The settings that the chosen method used (TENT's only with ``tent``)."""
    settings: dict[str, Any] = {"batch_size": params.batch_size}
    if params.method == "tent":
        settings |= {**params.tent.model_dump(), "seed": seed}
    return settings


@typed_params
def adapt_to_site(
    site_images: Mapping[str, Any],
    site_source_model: SourceModel,
    params: SiteAdaptationParams,
    seed: int,
) -> tuple[keras.Model, dict[str, Any]]:
    """The model adapted to the site's images, and what changed in it.

    ``adabn``: the BatchNormalization statistics re-estimated on the images;
    ``tent``: then ``params.tent.steps`` steps on the BatchNormalization scale and
    shift (``core.adaptation.tent_adapt``). The source model is not changed.
    """
    images = site_images["images"]
    source = site_source_model.model
    adapted = adapt_batch_norm(source, images, params.batch_size)
    losses: list[float] = []
    if params.method == "tent":
        adapted, losses = tent_adapt(
            adapted,
            images,
            batch_size=params.batch_size,
            steps=params.tent.steps,
            learning_rate=params.tent.learning_rate,
            diversity_weight=params.tent.diversity_weight,
            seed=seed,
        )
    shift = batch_norm_shift(
        batch_norm_statistics(source), batch_norm_statistics(adapted)
    )
    summary = summarise_shift(shift)
    logger.info(
        "Adapted with %s: BatchNorm moving mean changed by %.4g on average over %d "
        "layers (largest %.4g), moving variance by %.4g (largest %.4g)%s.",
        params.method,
        summary["moving_mean_mean"],
        len(shift),
        summary["moving_mean_max"],
        summary["moving_variance_mean"],
        summary["moving_variance_max"],
        f"; TENT loss {losses[0]:.4f} -> {losses[-1]:.4f}" if losses else "",
    )
    return adapted, {"summary": summary, "layers": shift, "tent_losses": losses}


@typed_params
def adapted_calibration(
    site_source_model: SourceModel,
    site_images: Mapping[str, Any],
    params: SiteAdaptationParams,
    seed: int,
) -> dict[str, Any]:
    """The source model's calibration, with an ``adapted`` entry that says how the
    model was adapted, from which version, and what that means for the review
    threshold (kept, not refitted)."""
    return {
        **site_source_model.calibration,
        "adapted": {
            "method": params.method,
            "settings": method_settings(params, seed),
            "from_version": site_source_model.version,
            "from_model_uri": site_source_model.model_uri,
            "site_images": len(site_images["images"]),
            "site_fingerprint": site_images["fingerprint"],
            "review_threshold_note": REVIEW_THRESHOLD_NOTE,
        },
    }


def adaptation_tags(calibration: Mapping[str, Any]) -> dict[str, str]:
    """The tags of the adapted version and of its run: the site's fingerprint and
    image count, the method and its settings, and the version it came from."""
    adapted = calibration["adapted"]
    return {
        f"{TAG_PREFIX}fingerprint": adapted["site_fingerprint"],
        f"{TAG_PREFIX}images": str(adapted["site_images"]),
        f"{TAG_PREFIX}method": adapted["method"],
        f"{TAG_PREFIX}settings": json.dumps(adapted["settings"], sort_keys=True),
        f"{TAG_PREFIX}from_version": str(adapted["from_version"]),
        f"{TAG_PREFIX}from_model_uri": adapted["from_model_uri"],
    }


def _prediction_mix(
    frame: pd.DataFrame, names: Sequence[str]
) -> tuple[dict[str, float], float]:
    """The share of images predicted as each class, and the share flagged."""
    shares = frame["predicted_class"].value_counts(normalize=True)
    mix = {name: float(shares.get(name, 0.0)) for name in names}
    return mix, float(frame[REVIEW_COLUMN].mean())


@typed_params
def measure_adaptation(  # noqa: PLR0913, PLR0917 (Kedro passes node inputs positionally)
    site_images: Mapping[str, Any],
    site_source_model: SourceModel,
    site_adapted_keras_model: keras.Model,
    shift: Mapping[str, Any],
    calibration: Mapping[str, Any],
    classes: Sequence[Mapping[str, Any]],
    params: SiteAdaptationParams,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the adaptation changed on the site's own images, no label used: the
    predicted class mix and the share flagged ``needs_review``, before (the source
    model) and after, and the BatchNorm shift.

    Returns the MLflow metrics and the report (``site_adaptation.json``).
    """
    names = class_names(classes)
    images = site_images["images"]
    mixes = {}
    for when, model, used in (
        ("before", site_source_model.model, site_source_model.calibration),
        ("after", site_adapted_keras_model, calibration),
    ):
        probabilities = predict_in_batches(model, images, params.batch_size)
        mixes[when] = _prediction_mix(
            prediction_frame(probabilities, names, used), names
        )
    metrics: dict[str, Any] = {
        "site_images": len(images),
        "site_unreadable_files": sum(site_images["unreadable"].values()),
        **{f"bn_shift_{key}": value for key, value in shift["summary"].items()},
        **{
            f"class_share_{when}_{name}": share
            for when, (mix, _) in mixes.items()
            for name, share in mix.items()
        },
        **{
            f"needs_review_share_{when}": flagged
            for when, (_, flagged) in mixes.items()
        },
    }
    logged = {
        name: {"value": float(value), "step": 0} for name, value in metrics.items()
    }
    if shift["tent_losses"]:
        logged["tent_loss"] = [
            {"value": loss, "step": step}
            for step, loss in enumerate(shift["tent_losses"])
        ]
    for when, (mix, flagged) in mixes.items():
        logger.info(
            "Predicted class mix on the site %s adaptation: %s; %.1f%% flagged "
            "needs_review.",
            when,
            ", ".join(f"{name} {share:.1%}" for name, share in mix.items()),
            100 * flagged,
        )
    report = {
        "adapted": calibration["adapted"],
        "site_files": site_images["files"],
        "unreadable_files_by_reason": site_images["unreadable"],
        "class_mix": {when: mix for when, (mix, _) in mixes.items()},
        "needs_review_share": {when: flagged for when, (_, flagged) in mixes.items()},
        "batch_norm_shift": shift,
    }
    return logged, report


def example_image(input_example: Any) -> bytes:
    """One image of a logged model's input example, as bytes the served model takes:
    the first base64 image of an ``ImageClassifier``'s frame, or the first image of a
    Keras model's array as PNG."""
    if isinstance(input_example, pd.DataFrame):
        return base64.b64decode(input_example[INPUT_COLUMN].iloc[0])
    if input_example is None:
        raise ValueError(
            "The source model has no input example to log with the adapted model."
        )
    return png_bytes(np.asarray(input_example)[0])


@typed_params
def package_adapted_model(  # noqa: PLR0917 (Kedro passes node inputs positionally)
    site_adapted_keras_model: keras.Model,
    site_source_model: SourceModel,
    calibration: Mapping[str, Any],
    tags: Mapping[str, str],
    classes: Sequence[Mapping[str, Any]],
    image_input: ImageInputParams,
) -> ServableModel:
    """The adapted model as a servable model like any other: the same classes,
    example and request limits as the source version (the image limits of this
    project's ``image_input`` for a source that records none), its calibration with
    ``adapted``, and the version tags.

    The example is the source model's own, never an image of the site.
    """
    limits = (
        RequestLimits.from_config(site_source_model.model_config)
        if site_source_model.model_config
        else RequestLimits(
            max_image_pixels=image_input.max_image_pixels,
            image_formats=tuple(image_input.image_formats),
        )
    )
    return ServableModel(
        site_adapted_keras_model,
        class_names(classes),
        example_image(site_source_model.input_example),
        dict(calibration),
        limits,
        dict(tags),
    )
