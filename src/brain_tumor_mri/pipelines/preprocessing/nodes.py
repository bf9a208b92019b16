"""Nodes of the preprocessing pipeline: raw files in, validated, audited, split, cached."""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePosixPath
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.model_selection import StratifiedGroupKFold
from tqdm.auto import tqdm

from brain_tumor_mri.core.classes import class_names, folder_to_class
from brain_tumor_mri.core.images.colour import to_rgb8
from brain_tumor_mri.core.images.decoding import decode_image, read_header
from brain_tumor_mri.core.images.hashing import perceptual_hash
from brain_tumor_mri.core.images.limits import ImageReadError
from brain_tumor_mri.core.images.loading import load_rgb
from brain_tumor_mri.core.source_groups import assign_source_groups
from brain_tumor_mri.pipelines.preprocessing.near_duplicates import (
    equal_key_pairs,
    hex_to_uint64,
    near_pairs,
)
from brain_tumor_mri.pipelines.preprocessing.shortcut_audit import (
    audit_summary,
    frame_width,
    group_counts,
    jpeg_quality,
    metadata_baseline,
    mlflow_metrics,
)

logger = logging.getLogger(__name__)

RawImages = Mapping[str, Callable[[], bytes]]
T = TypeVar("T")
R = TypeVar("R")

OK = "ok"
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


def _parallel_map(
    function: Callable[[T], R], items: Sequence[T], workers: int, description: str
) -> list[R]:
    """``map`` over threads with a progress bar; results keep the order of ``items``."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(
            tqdm(
                pool.map(function, items),
                total=len(items),
                desc=description,
                unit="img",
            )
        )


def _locate(
    relative_path: str, split_folders: Mapping[str, str], classes
) -> dict[str, Any]:
    """Split, class folder and class of a file from its path relative to the raw folder."""
    parts = PurePosixPath(relative_path).parts
    split_by_folder = {folder: split for split, folder in split_folders.items()}
    if len(parts) < 3 or parts[0] not in split_by_folder:
        return {
            "split": None,
            "class_folder": None,
            "label": None,
            "status": "ignored",
            "reason": "outside the <split>/<class>/ layout",
        }
    label = folder_to_class(parts[1], classes)
    if label is None:
        return {
            "split": split_by_folder[parts[0]],
            "class_folder": parts[1],
            "label": None,
            "status": "ignored",
            "reason": f"folder '{parts[1]}' matches no class",
        }
    return {
        "split": split_by_folder[parts[0]],
        "class_folder": parts[1],
        "label": label,
        "status": OK,
        "reason": "",
    }


def _limit_per_class(located: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    if limit is None:
        return located
    usable = located["status"] == OK
    kept = located[usable].groupby(["split", "label"], group_keys=False).head(limit)
    return pd.concat([kept, located[~usable]]).sort_values("path", ignore_index=True)


def index_raw_files(
    raw_images: RawImages,
    classes: list[dict],
    source_groups: Mapping[str, Any],
    params: dict,
) -> pd.DataFrame:
    """One row per file under the raw folder: location, size, sha256, image header,
    JPEG quality estimate and source group (``source_groups``' rules)."""
    located = pd.DataFrame(
        [
            {"path": path, **_locate(path, params["split_folders"], classes)}
            for path in sorted(raw_images)
        ]
    )
    located = _limit_per_class(located, params.get("max_images_per_class"))
    for folder in sorted(
        set(located.loc[located["reason"].str.contains("matches no"), "class_folder"])
    ):
        logger.warning(
            "Ignoring folder '%s': it matches no class or alias in `classes`.", folder
        )

    def describe(path: str) -> dict[str, Any]:
        data = raw_images[path]()
        row: dict[str, Any] = {
            "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        try:
            header = read_header(
                data, params["max_image_pixels"], params["image_formats"]
            )
            row.update(header._asdict())
        except ImageReadError as error:
            row.update(
                width=None, height=None, mode=None, format=None, header_error=str(error)
            )
        row["jpeg_quality"] = jpeg_quality(data) if row["format"] == "JPEG" else None
        return row

    described = pd.DataFrame(
        _parallel_map(describe, located["path"].tolist(), params["workers"], "Indexing")
    )
    manifest = pd.concat([located.reset_index(drop=True), described], axis=1)
    if "header_error" not in manifest:
        manifest["header_error"] = None
    unreadable = manifest["header_error"].notna() & (manifest["status"] == OK)
    manifest.loc[unreadable, "status"] = "unreadable"
    manifest.loc[unreadable, "reason"] = manifest.loc[unreadable, "header_error"]
    manifest = manifest.drop(columns="header_error")
    manifest[["width", "height"]] = manifest[["width", "height"]].astype("Int64")
    manifest["jpeg_quality"] = manifest["jpeg_quality"].astype(float)
    manifest["source_group"] = assign_source_groups(
        manifest, source_groups["rules"], source_groups["default"]
    )
    logger.info(
        "Indexed %d files: %s; source groups: %s.",
        len(manifest),
        _counts(manifest["status"]),
        _counts(manifest.loc[manifest["status"] == OK, "source_group"]),
    )
    return manifest


def _counts(values: Iterable[str]) -> str:
    return ", ".join(
        f"{count} {name}" for name, count in pd.Series(values).value_counts().items()
    )


# pHash works on a 32x32 reduction, so validation decodes JPEGs at 1/8 scale (64x64
# for a 512x512 slice): that still decodes every byte of the file, so corrupt and
# truncated files fail as they would at full size, at a fraction of the cost.
VALIDATION_DECODE_SIZE = (64, 64)


def validate_images(
    raw_images: RawImages, image_manifest: pd.DataFrame, params: dict
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decode every indexed file once; return usable images (with pHash and the width
    of the black frame around the head) and bad files.

    Corrupt, truncated, empty and non-image files are not used but each gets a line,
    with its reason, in the bad-files report. Grayscale, palette, RGBA, CMYK and 16-bit
    images are usable: caching converts them to 8-bit RGB.
    """
    candidates = image_manifest[image_manifest["status"] == OK].reset_index(drop=True)

    def check(path: str) -> tuple[str, float, str]:
        try:
            image = decode_image(
                raw_images[path](),
                draft_size=VALIDATION_DECODE_SIZE,
                max_pixels=params["max_image_pixels"],
                formats=params["image_formats"],
            )
        except ImageReadError as error:
            return "", math.nan, str(error)
        rgb = to_rgb8(image)
        return perceptual_hash(rgb), frame_width(rgb.max(axis=-1)), ""

    checked = _parallel_map(
        check, candidates["path"].tolist(), params["workers"], "Validating"
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
    bad_files = bad[["path", "split", "class_folder", "size_bytes", "status", "reason"]]
    bad_files = bad_files.sort_values("path", ignore_index=True)
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


def audit_leakage(
    validated_images: pd.DataFrame, params: dict
) -> tuple[pd.DataFrame, dict]:
    """Exact (sha256) and near (pHash) duplicates within and across the splits."""
    images = validated_images.reset_index(drop=True)
    bits = hex_to_uint64(images["phash"])
    rows, cols, _ = near_pairs(bits, params["near_duplicate_max_distance"])
    exact_rows, exact_cols = equal_key_pairs(pd.factorize(images["sha256"])[0])
    pair_index = pd.MultiIndex.from_arrays(
        [np.concatenate([rows, exact_rows]), np.concatenate([cols, exact_cols])]
    ).unique()
    a, b = (
        pair_index.get_level_values(0).to_numpy(),
        pair_index.get_level_values(1).to_numpy(),
    )
    pairs = pd.DataFrame(
        {
            "path_a": images["path"].to_numpy()[a],
            "path_b": images["path"].to_numpy()[b],
            "split_a": images["split"].to_numpy()[a],
            "split_b": images["split"].to_numpy()[b],
            "label_a": images["label"].to_numpy()[a],
            "label_b": images["label"].to_numpy()[b],
            "phash_distance": np.bitwise_count(bits[a] ^ bits[b]).astype(int),
            "exact": images["sha256"].to_numpy()[a] == images["sha256"].to_numpy()[b],
        }
    )
    pairs["label_conflict"] = pairs["label_a"] != pairs["label_b"]
    pairs["kind"] = np.where(pairs["exact"], "exact", "near")
    pairs = pairs.sort_values(["path_a", "path_b"], ignore_index=True)
    summary = _leakage_summary(images, pairs, params["near_duplicate_max_distance"])
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


def _leakage_summary(
    images: pd.DataFrame, pairs: pd.DataFrame, max_distance: int
) -> dict:
    groups = images.groupby("sha256")["split"].agg(["size", "nunique"])
    groups = groups[groups["size"] > 1]
    cross = pairs[pairs["split_a"] != pairs["split_b"]]
    test_paths = set(cross.loc[cross["split_a"] == "test", "path_a"]) | set(
        cross.loc[cross["split_b"] == "test", "path_b"]
    )
    test = images[images["split"] == "test"]
    leaked = test[test["path"].isin(test_paths)]
    near = pairs[~pairs["exact"]]

    def per_class(frame: pd.DataFrame) -> dict[str, int]:
        return {
            str(k): int(v)
            for k, v in frame["label"].value_counts().sort_index().items()
        }

    return {
        "near_duplicate_max_distance": int(max_distance),
        "images": {
            split: {"total": int(len(frame)), "per_class": per_class(frame)}
            for split, frame in images.groupby("split")
        },
        "exact_duplicates": {
            "groups": int(len(groups)),
            "files": int(groups["size"].sum()),
            "groups_across_splits": int((groups["nunique"] > 1).sum()),
            "pairs": int(pairs["exact"].sum()),
            "label_conflict_pairs": int(
                (pairs["exact"] & pairs["label_conflict"]).sum()
            ),
        },
        "near_duplicates": {
            "pairs": int(len(near)),
            "pairs_within_train": int(
                ((near["split_a"] == "train") & (near["split_b"] == "train")).sum()
            ),
            "pairs_within_test": int(
                ((near["split_a"] == "test") & (near["split_b"] == "test")).sum()
            ),
            "pairs_across_splits": int((near["split_a"] != near["split_b"]).sum()),
            "label_conflict_pairs": int(near["label_conflict"].sum()),
            "pairs_by_distance": {
                str(distance): int(count)
                for distance, count in near["phash_distance"]
                .value_counts()
                .sort_index()
                .items()
            },
            "label_conflict_pairs_by_distance": {
                str(distance): int(count)
                for distance, count in near.loc[
                    near["label_conflict"], "phash_distance"
                ]
                .value_counts()
                .sort_index()
                .items()
            },
        },
        "test_images_with_duplicate_in_train": {
            "total": int(len(leaked)),
            "per_class": per_class(leaked),
        },
    }


def _duplicate_clusters(paths: pd.Series, pairs: pd.DataFrame) -> np.ndarray:
    """Connected components of the duplicate graph: one cluster id per image."""
    position = pd.Index(paths)
    a = position.get_indexer(pairs["path_a"])
    b = position.get_indexer(pairs["path_b"])
    known = (a >= 0) & (b >= 0)
    graph = coo_matrix(
        (np.ones(int(known.sum())), (a[known], b[known])),
        shape=(len(paths), len(paths)),
    )
    return connected_components(graph, directed=False)[1]


def split_data(
    validated_images: pd.DataFrame,
    near_duplicate_pairs: pd.DataFrame,
    classes: list[dict],
    seed: int,
    params: dict,
) -> pd.DataFrame:
    """Stratified, duplicate-grouped train/validation split; the Testing folder is the test set.

    ``test_dedup`` marks the test images with no exact or near duplicate in train or
    validation.
    """
    images = validated_images.sort_values("path", ignore_index=True)
    images["cluster"] = _duplicate_clusters(images["path"], near_duplicate_pairs)
    images["label_index"] = images["label"].map(
        {n: i for i, n in enumerate(class_names(classes))}
    )
    pool = images.index[images["split"] == "train"]
    folds = max(2, round(1 / params["validation_fraction"]))
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


def cache_split(  # noqa: PLR0917 (Kedro passes node inputs positionally)
    raw_images: RawImages,
    data_split: pd.DataFrame,
    image_size: list[int],
    image_preprocessing: Mapping[str, Any],
    params: dict,
    split: str,
) -> dict[str, Any]:
    """Decode, convert to 8-bit RGB, preprocess and resize each image of one split, once.

    Returns ``{"images", "labels", "paths", "groups"}``: ``images`` is a generator of
    uint8 ``(n, H, W, 3)`` batches that the dataset writes as it goes, so the split is
    never held in memory; ``labels`` are class indices, ``paths`` relative file paths,
    ``groups`` source groups.
    """
    size = (int(image_size[0]), int(image_size[1]))
    max_pixels = params["max_image_pixels"]
    rows = data_split[data_split["split"] == split]
    paths = rows["path"].tolist()

    def batches() -> Iterator[np.ndarray]:
        progress = tqdm(total=len(paths), desc=f"Caching {split}", unit="img")
        with ThreadPoolExecutor(max_workers=max(1, params["workers"])) as pool:
            for start in range(0, len(paths), CACHE_BATCH):
                batch = paths[start : start + CACHE_BATCH]
                yield np.stack(
                    list(
                        pool.map(
                            lambda p: load_rgb(
                                raw_images[p](),
                                size,
                                image_preprocessing,
                                max_pixels,
                                params["image_formats"],
                            ),
                            batch,
                        )
                    )
                )
                progress.update(len(batch))
        progress.close()
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


def audit_shortcuts(
    data_split: pd.DataFrame,
    classes: list[dict],
    seed: int,
    evaluation: Mapping[str, Any],
    params: dict,
) -> tuple[dict, dict[str, dict[str, float]]]:
    """Images per split, class and source group, and how well metadata alone (native
    size, bytes per pixel, colour mode, JPEG quality, frame width) predicts the class:
    a small model fitted on ``train``, scored on the other splits.

    Logs a warning when it beats the majority baseline on ``val`` by more than
    ``params["shortcut_audit"]["warn_above_majority"]``. Returns the audit (JSON) and
    its MLflow metrics.
    """
    negative = evaluation["screening"]["negative_class"]
    baseline = metadata_baseline(data_split, negative, seed)
    summary = audit_summary(
        data_split, baseline, params["shortcut_audit"]["warn_above_majority"]
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
