"""The leakage audit's pairs, summary and duplicate clusters on hand-made hashes."""

from __future__ import annotations

import pandas as pd

from brain_tumor_mri.pipelines.preprocessing.leakage import (
    duplicate_clusters,
    duplicate_pairs,
    leakage_summary,
)

# a and b: one file twice (train and test); c and d: 1 bit apart, different labels;
# e: far from every other hash.
IMAGES = pd.DataFrame(
    {
        "path": ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"],
        "split": ["train", "test", "train", "train", "test"],
        "label": ["glioma", "glioma", "glioma", "no_tumor", "no_tumor"],
        "sha256": ["x", "x", "y", "z", "w"],
        "phash": [
            "0000000000000000",
            "0000000000000000",
            "ffff0000ffff0000",
            "ffff0000ffff0001",
            "0f0f0f0f0f0f0f0f",
        ],
    }
)


def test_pairs_are_exact_or_near_with_their_splits_and_labels():
    pairs = duplicate_pairs(IMAGES, max_distance=2)
    assert pairs[["path_a", "path_b", "kind", "phash_distance"]].values.tolist() == [
        ["a.jpg", "b.jpg", "exact", 0],
        ["c.jpg", "d.jpg", "near", 1],
    ]
    assert pairs["label_conflict"].tolist() == [False, True]
    assert pairs[["split_a", "split_b"]].values.tolist() == [
        ["train", "test"],
        ["train", "train"],
    ]


def test_summary_counts_every_finding():
    pairs = duplicate_pairs(IMAGES, max_distance=2)
    assert leakage_summary(IMAGES, pairs, 2) == {
        "near_duplicate_max_distance": 2,
        "images": {
            "test": {"total": 2, "per_class": {"glioma": 1, "no_tumor": 1}},
            "train": {"total": 3, "per_class": {"glioma": 2, "no_tumor": 1}},
        },
        "exact_duplicates": {
            "groups": 1,
            "files": 2,
            "groups_across_splits": 1,
            "pairs": 1,
            "label_conflict_pairs": 0,
        },
        "near_duplicates": {
            "pairs": 1,
            "pairs_within_train": 1,
            "pairs_within_test": 0,
            "pairs_across_splits": 0,
            "label_conflict_pairs": 1,
            "pairs_by_distance": {"1": 1},
            "label_conflict_pairs_by_distance": {"1": 1},
        },
        "test_images_with_duplicate_in_train": {
            "total": 1,
            "per_class": {"glioma": 1},
        },
    }


def test_clusters_join_the_paired_images_only():
    pairs = duplicate_pairs(IMAGES, max_distance=2)
    clusters = duplicate_clusters(IMAGES["path"], pairs)
    assert clusters[0] == clusters[1]
    assert clusters[2] == clusters[3]
    assert len(set(clusters)) == 3
