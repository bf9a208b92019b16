"""Nodes of the preprocessing pipeline: raw files in, validated, audited, split, cached."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from brain_tumor_mri.config.base import typed_params
from brain_tumor_mri.config.shared import (
    ImageInputParams,
    ImagePreprocessingParams,
    SourceGroupParams,
)
from brain_tumor_mri.core.classes import class_names
from brain_tumor_mri.core.images.loading import load_rgb
from brain_tumor_mri.core.source_groups import assign_source_groups
from brain_tumor_mri.pipelines.preprocessing.leakage import (
    duplicate_clusters,
    duplicate_pairs,
    leakage_summary,
)
from brain_tumor_mri.pipelines.preprocessing.parallel import (
    parallel_map,
    stacked_batches,
)
from brain_tumor_mri.pipelines.preprocessing.params import PreprocessingParams
from brain_tumor_mri.pipelines.preprocessing.raw_files import (
    OK,
    describe_entry,
    inspect_pixels,
    limit_per_class,
    locate,
    mark_unreadable,
)
from brain_tumor_mri.pipelines.preprocessing.shortcut_audit import (
    audit_summary,
    group_counts,
    metadata_baseline,
    mlflow_metrics,
)

logger = logging.getLogger(__name__)

RawImages = Mapping[str, Callable[[], bytes]]

# Images decoded and written at a time by the cache.
CACHE_BATCH = 128
SPLIT_COLUMNS = (
    "path",
    "split",
    "label",
    "label_index",
    "cluster",
    "test_dedup",
    "sha256",
    "source_group",
)
# Acquisition metadata that the split table carries for the shortcut audit.
METADATA_COLUMNS = (
    "width",
    "height",
    "mode",
    "size_bytes",
    "jpeg_quality",
    "frame_width",
)
BAD_FILE_COLUMNS = ["path", "split", "class_folder", "size_bytes", "status", "reason"]


def _counts(values: Iterable[str]) -> str:
    return ", ".join(
        f"{count} {name}" for name, count in pd.Series(values).value_counts().items()
    )


@typed_params
def index_raw_files(
    raw_images: RawImages,
    classes: Sequence[Mapping[str, Any]],
    source_groups: SourceGroupParams,
    params: PreprocessingParams,
    image_input: ImageInputParams,
) -> pd.DataFrame:
    """One row per file under the raw folder: location, size, sha256, image header,
    JPEG quality estimate and source group (``source_groups``' rules)."""
    located = pd.DataFrame(
        [
            {"path": path, **locate(path, params.split_folders, classes)}
            for path in sorted(raw_images)
        ]
    )
    located = limit_per_class(located, params.max_images_per_class)
    for folder in sorted(
        set(located.loc[located["reason"].str.contains("matches no"), "class_folder"])
    ):
        logger.warning(
            "Ignoring folder '%s': it matches no class or alias in `classes`.", folder
        )
    described = pd.DataFrame(
        parallel_map(
            lambda path: describe_entry(
                raw_images[path],
                image_input.max_image_pixels,
                image_input.image_formats,
            ),
            located["path"].tolist(),
            params.workers,
            "Indexing",
        )
    )
    manifest = mark_unreadable(
        pd.concat([located.reset_index(drop=True), described], axis=1)
    )
    manifest["source_group"] = assign_source_groups(
        manifest,
        [rule.model_dump() for rule in source_groups.rules],
        source_groups.default,
    )
    logger.info(
        "Indexed %d files: %s; source groups: %s.",
        len(manifest),
        _counts(manifest["status"]),
        _counts(manifest.loc[manifest["status"] == OK, "source_group"]),
    )
    return manifest


@typed_params
def validate_images(
    raw_images: RawImages,
    image_manifest: pd.DataFrame,
    params: PreprocessingParams,
    image_input: ImageInputParams,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decode every indexed file once; return usable images (with pHash and the width
    of the black frame around the head) and bad files.

    Corrupt, truncated, empty and non-image files are not used but each gets a line,
    with its reason, in the bad-files report. Grayscale, palette, RGBA, CMYK and 16-bit
    images are usable: caching converts them to 8-bit RGB.
    """
    candidates = image_manifest[image_manifest["status"] == OK].reset_index(drop=True)
    checked = parallel_map(
        lambda path: inspect_pixels(
            raw_images[path](), image_input.max_image_pixels, image_input.image_formats
        ),
        candidates["path"].tolist(),
        params.workers,
        "Validating",
    )
    candidates["phash"] = [phash for phash, _, _ in checked]
    candidates["frame_width"] = [frame for _, frame, _ in checked]
    candidates["reason"] = [reason for _, _, reason in checked]
    corrupt = candidates["reason"] != ""
    candidates.loc[corrupt, "status"] = "corrupt"
    valid = candidates[~corrupt].reset_index(drop=True)

    bad = pd.concat(
        [image_manifest[image_manifest["status"] != OK], candidates[corrupt]]
    )
    bad_files = bad[BAD_FILE_COLUMNS].sort_values("path", ignore_index=True)
    for row in bad_files.itertuples():
        logger.warning("Skipping '%s' (%s): %s", row.path, row.status, row.reason)
    converted = valid["mode"] != "RGB"
    logger.info(
        "Validated %d files: %d usable images (%d to convert to 8-bit RGB: %s), "
        "%d bad files listed in the bad-files report.",
        len(image_manifest),
        len(valid),
        int(converted.sum()),
        _counts(valid.loc[converted, "mode"]) or "none",
        len(bad_files),
    )
    return valid, bad_files


@typed_params
def audit_leakage(
    validated_images: pd.DataFrame, params: PreprocessingParams
) -> tuple[pd.DataFrame, dict]:
    """Exact (sha256) and near (pHash) duplicates within and across the splits."""
    images = validated_images.reset_index(drop=True)
    max_distance = params.near_duplicate_max_distance
    pairs = duplicate_pairs(images, max_distance)
    summary = leakage_summary(images, pairs, max_distance)
    logger.info(
        "Leakage audit: %d exact-duplicate groups (%d spanning train and test), %d "
        "near-duplicate pairs, %d with conflicting labels; %d of %d test images have a "
        "near-duplicate in the training pool.",
        summary["exact_duplicates"]["groups"],
        summary["exact_duplicates"]["groups_across_splits"],
        summary["near_duplicates"]["pairs"],
        summary["near_duplicates"]["label_conflict_pairs"],
        summary["test_images_with_duplicate_in_train"]["total"],
        summary["images"]["test"]["total"],
    )
    return pairs, summary


@typed_params
def split_data(
    validated_images: pd.DataFrame,
    near_duplicate_pairs: pd.DataFrame,
    classes: Sequence[Mapping[str, Any]],
    seed: int,
    params: PreprocessingParams,
) -> pd.DataFrame:
    """Stratified, duplicate-grouped train/validation split; the Testing folder is the test set.

    ``test_dedup`` marks the test images with no exact or near duplicate in train or
    validation.
    """
    images = validated_images.sort_values("path", ignore_index=True)
    images["cluster"] = duplicate_clusters(images["path"], near_duplicate_pairs)
    images["label_index"] = images["label"].map(
        {n: i for i, n in enumerate(class_names(classes))}
    )
    pool = images.index[images["split"] == "train"]
    folds = max(2, round(1 / params.validation_fraction))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    _, val = next(
        splitter.split(
            pool, images.loc[pool, "label_index"], images.loc[pool, "cluster"]
        )
    )
    images.loc[pool[val], "split"] = "val"
    train_clusters = set(images.loc[images["split"].isin(["train", "val"]), "cluster"])
    images["test_dedup"] = (images["split"] == "test") & ~images["cluster"].isin(
        train_clusters
    )
    table = images[[*SPLIT_COLUMNS, *METADATA_COLUMNS]]
    logger.info(
        "Split: %s; %d of %d test images have no duplicate in train/val (test_dedup).",
        _counts(table["split"]),
        int(table["test_dedup"].sum()),
        int((table["split"] == "test").sum()),
    )
    return table


@typed_params
def cache_split(  # noqa: PLR0917 (Kedro passes node inputs positionally)
    raw_images: RawImages,
    data_split: pd.DataFrame,
    image_size: list[int],
    image_preprocessing: ImagePreprocessingParams,
    params: PreprocessingParams,
    image_input: ImageInputParams,
    split: str,
) -> dict[str, Any]:
    """Decode, convert to 8-bit RGB, preprocess and resize each image of one split, once.

    Returns ``{"images", "labels", "paths", "groups"}``: ``images`` is a generator of
    uint8 ``(n, H, W, 3)`` batches that the dataset writes as it goes, so the split is
    never held in memory; ``labels`` are class indices, ``paths`` relative file paths,
    ``groups`` source groups.
    """
    size = (int(image_size[0]), int(image_size[1]))
    rows = data_split[data_split["split"] == split]
    paths = rows["path"].tolist()
    preparation = image_preprocessing.model_dump()

    def load(path: str) -> np.ndarray:
        return load_rgb(
            raw_images[path](),
            size,
            preparation,
            image_input.max_image_pixels,
            image_input.image_formats,
        )

    def batches() -> Iterator[np.ndarray]:
        yield from stacked_batches(
            load, paths, CACHE_BATCH, params.workers, f"Caching {split}"
        )
        logger.info("Cached %d %s images at %dx%d.", len(paths), split, *size)

    return {
        "images": batches(),
        "labels": rows["label_index"].to_numpy(dtype=np.int64),
        "paths": rows["path"].to_numpy(dtype=str),
        "groups": rows["source_group"].to_numpy(dtype=str),
    }


def select_test_dedup(
    test_cache: dict[str, np.ndarray], data_split: pd.DataFrame
) -> dict:
    """The test images that have no exact or near duplicate in train or validation."""
    dedup = set(data_split.loc[data_split["test_dedup"].astype(bool), "path"])
    keep = np.array([path in dedup for path in test_cache["paths"]], dtype=bool)
    return {name: np.asarray(array[keep]) for name, array in test_cache.items()}


def describe_data_set(data_split: pd.DataFrame) -> pd.DataFrame:
    """Each file of the data set with its split, class and content hash, sorted by
    path: what the training run logs as its MLflow dataset input, whose digest changes
    with any file, label or split."""
    columns = ["path", "split", "label", "sha256"]
    return data_split[columns].sort_values("path", ignore_index=True).astype(str)


@typed_params
def audit_shortcuts(
    data_split: pd.DataFrame,
    classes: Sequence[Mapping[str, Any]],
    seed: int,
    negative_class: str,
    params: PreprocessingParams,
) -> tuple[dict, dict[str, dict[str, float]]]:
    """Images per split, class and source group, and how well metadata alone (native
    size, bytes per pixel, colour mode, JPEG quality, frame width) predicts the class:
    a small model fitted on ``train``, scored on the other splits; the tumour ROC AUC
    scores every class but ``negative_class`` against it.

    Logs a warning when it beats the majority baseline on ``val`` by more than
    ``params.shortcut_audit.warn_above_majority``. Returns the audit (JSON) and its
    MLflow metrics.
    """
    baseline = metadata_baseline(data_split, negative_class, seed)
    summary = audit_summary(
        data_split, baseline, params.shortcut_audit.warn_above_majority
    )
    val = baseline["splits"].get("val", {})
    if summary["shortcut_suspected"]:
        logger.warning(
            "Shortcut audit: metadata alone (image size, compression, frame) predicts "
            "the validation class with accuracy %.3f against %.3f for the majority "
            "class: the classes can be told apart by how the images were made; judge "
            "the model per source group (docs/accuracy.md).",
            val["accuracy"],
            val["majority_accuracy"],
        )
    audit = {
        **summary,
        "metadata_baseline": baseline,
        "images_by_class_and_group": group_counts(data_split, class_names(classes)),
    }
    return audit, mlflow_metrics(baseline)
