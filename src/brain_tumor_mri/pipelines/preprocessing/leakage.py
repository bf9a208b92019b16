"""The leakage audit: exact (sha256) and near (pHash) duplicate pairs, what they say
about the splits, and the clusters of duplicates that the split keeps together."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from brain_tumor_mri.pipelines.preprocessing.near_duplicates import (
    equal_key_pairs,
    hex_to_uint64,
    near_pairs,
)


def duplicate_pairs(images: pd.DataFrame, max_distance: int) -> pd.DataFrame:
    """One row per pair of images that are exact duplicates or whose pHashes differ in
    at most ``max_distance`` bits, sorted by path, with splits, labels and distance."""
    bits = hex_to_uint64(images["phash"])
    rows, cols, _ = near_pairs(bits, max_distance)
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
    return pairs.sort_values(["path_a", "path_b"], ignore_index=True)


def leakage_summary(
    images: pd.DataFrame, pairs: pd.DataFrame, max_distance: int
) -> dict[str, Any]:
    """The audit's counts (``leakage_summary.json``): images per split and class,
    exact and near duplicates, and test images with a duplicate in the training pool."""
    leaked = _test_images_with_duplicate_in_train(images, pairs)
    return {
        "near_duplicate_max_distance": int(max_distance),
        "images": {
            split: {"total": int(len(frame)), "per_class": _per_class(frame)}
            for split, frame in images.groupby("split")
        },
        "exact_duplicates": _exact_duplicates(images, pairs),
        "near_duplicates": _near_duplicates(pairs[~pairs["exact"]]),
        "test_images_with_duplicate_in_train": {
            "total": int(len(leaked)),
            "per_class": _per_class(leaked),
        },
    }


def _per_class(frame: pd.DataFrame) -> dict[str, int]:
    return {
        str(k): int(v) for k, v in frame["label"].value_counts().sort_index().items()
    }


def _by_distance(distances: pd.Series) -> dict[str, int]:
    return {
        str(distance): int(count)
        for distance, count in distances.value_counts().sort_index().items()
    }


def _exact_duplicates(images: pd.DataFrame, pairs: pd.DataFrame) -> dict[str, int]:
    """Groups of files with one sha256, and the exact pairs among them."""
    groups = images.groupby("sha256")["split"].agg(["size", "nunique"])
    groups = groups[groups["size"] > 1]
    return {
        "groups": int(len(groups)),
        "files": int(groups["size"].sum()),
        "groups_across_splits": int((groups["nunique"] > 1).sum()),
        "pairs": int(pairs["exact"].sum()),
        "label_conflict_pairs": int((pairs["exact"] & pairs["label_conflict"]).sum()),
    }


def _near_duplicates(near: pd.DataFrame) -> dict[str, Any]:
    """Near (not exact) pairs: where they are, and how many by pHash distance."""
    return {
        "pairs": int(len(near)),
        "pairs_within_train": int(
            ((near["split_a"] == "train") & (near["split_b"] == "train")).sum()
        ),
        "pairs_within_test": int(
            ((near["split_a"] == "test") & (near["split_b"] == "test")).sum()
        ),
        "pairs_across_splits": int((near["split_a"] != near["split_b"]).sum()),
        "label_conflict_pairs": int(near["label_conflict"].sum()),
        "pairs_by_distance": _by_distance(near["phash_distance"]),
        "label_conflict_pairs_by_distance": _by_distance(
            near.loc[near["label_conflict"], "phash_distance"]
        ),
    }


def _test_images_with_duplicate_in_train(
    images: pd.DataFrame, pairs: pd.DataFrame
) -> pd.DataFrame:
    """The test images that have a pair in another split."""
    cross = pairs[pairs["split_a"] != pairs["split_b"]]
    test_paths = set(cross.loc[cross["split_a"] == "test", "path_a"]) | set(
        cross.loc[cross["split_b"] == "test", "path_b"]
    )
    test = images[images["split"] == "test"]
    return test[test["path"].isin(test_paths)]


def duplicate_clusters(paths: pd.Series, pairs: pd.DataFrame) -> np.ndarray:
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
