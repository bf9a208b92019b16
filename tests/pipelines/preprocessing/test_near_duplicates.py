"""The near-duplicate search against a plain all-pairs comparison, on random hashes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brain_tumor_mri.pipelines.preprocessing.near_duplicates import (
    equal_key_pairs,
    hex_to_uint64,
    near_pairs,
    plan,
)


def all_pairs(bits: np.ndarray, max_distance: int) -> set[tuple[int, int, int]]:
    """The reference: every pair ``i < j`` compared with Python integers."""
    values = [int(value) for value in bits]
    return {
        (i, j, (values[i] ^ values[j]).bit_count())
        for i in range(len(values))
        for j in range(i + 1, len(values))
        if (values[i] ^ values[j]).bit_count() <= max_distance
    }


def flip(value: int, count: int, rng: np.random.Generator) -> int:
    """``value`` with ``count`` distinct random bits flipped."""
    for bit in rng.choice(64, size=count, replace=False):
        value ^= 1 << int(bit)
    return value


def planted_hashes(
    seed: int, size: int, max_distance: int, clustered: bool
) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Random hashes plus one planted pair at each distance 0..max_distance + 1.

    ``clustered`` draws the hashes around a few centres, so many share long runs of
    bits as real pHashes of similar slices do, and the index meets large groups.
    """
    rng = np.random.default_rng(seed)
    if clustered:
        centres = [int(c) for c in rng.integers(0, 2**63, 4, dtype=np.uint64)]
        values = [
            flip(centres[i % 4], int(rng.integers(0, 12)), rng) for i in range(size)
        ]
    else:
        values = [int(v) for v in rng.integers(0, 2**64 - 1, size, dtype=np.uint64)]
    planted = []
    for distance in range(max_distance + 2):
        base = int(rng.integers(0, 2**64 - 1, dtype=np.uint64))
        values += [base, flip(base, distance, rng)]
        planted.append((len(values) - 2, len(values) - 1, distance))
    order = rng.permutation(len(values))
    position = np.argsort(order)
    shuffled = np.array([values[i] for i in order], dtype=np.uint64)
    moved = [
        (*sorted((int(position[i]), int(position[j]))), distance)
        for i, j, distance in planted
    ]
    return shuffled, moved


def as_set(found: tuple[np.ndarray, np.ndarray, np.ndarray]) -> set:
    return {(int(i), int(j), int(d)) for i, j, d in zip(*found, strict=True)}


@pytest.mark.parametrize("clustered", [False, True], ids=["uniform", "clustered"])
@pytest.mark.parametrize("max_distance", [0, 1, 4, 6, 16, 20])
@pytest.mark.parametrize("extra_blocks", [None, 0, 1, 2], ids=lambda b: f"blocks+{b}")
def test_near_pairs_equal_the_all_pairs_comparison(
    max_distance: int, extra_blocks: int | None, clustered: bool
):
    for seed in range(3):
        bits, planted = planted_hashes(seed, 300, max_distance, clustered)
        blocks = None if extra_blocks is None else max_distance + 1 + extra_blocks
        rows, cols, distances = near_pairs(bits, max_distance, blocks=blocks)
        expected = all_pairs(bits, max_distance)
        assert as_set((rows, cols, distances)) == expected
        assert len(rows) == len(expected)  # no pair twice
        assert np.all(rows < cols)
        assert np.all(np.diff(rows * len(bits) + cols) > 0)  # sorted by (i, j)
        assert rows.dtype == cols.dtype == distances.dtype == np.int64
        *near, (i, j, too_far) = planted
        assert set(near) <= expected
        assert too_far == max_distance + 1
        assert not {(i, j, too_far)} & expected


def test_index_is_used_at_scale_and_all_pairs_where_cheaper():
    assert plan(10, 4) is None
    assert plan(1_000_000, 4) is not None
    assert plan(1_000_000, 64) is None  # every pair is within 64 bits
    bits, planted = planted_hashes(7, 5000, 4, clustered=False)
    assert plan(len(bits), 4) is not None
    found = as_set(near_pairs(bits, 4))
    assert set(planted[:-1]) <= found
    assert planted[-1] not in found


def test_near_pairs_edge_cases():
    empty = near_pairs(np.empty(0, np.uint64), 4)
    assert all(len(a) == 0 and a.dtype == np.int64 for a in empty)
    assert all(len(a) == 0 for a in near_pairs(np.array([5], np.uint64), 4))
    same = np.array([3, 3, 3], np.uint64)
    assert as_set(near_pairs(same, 0)) == {(0, 1, 0), (0, 2, 0), (1, 2, 0)}
    extremes = np.array([0, 2**64 - 1, 1], np.uint64)
    assert as_set(near_pairs(extremes, 64)) == {(0, 1, 64), (0, 2, 1), (1, 2, 63)}
    assert as_set(near_pairs(extremes, 63)) == {(0, 2, 1), (1, 2, 63)}
    assert as_set(near_pairs(extremes, 63, blocks=64)) == {(0, 2, 1), (1, 2, 63)}
    with pytest.raises(ValueError, match="max_distance must be 0 or more"):
        near_pairs(extremes, -1)
    with pytest.raises(ValueError, match="blocks must be over max_distance"):
        near_pairs(extremes, 4, blocks=4)
    with pytest.raises(ValueError, match="at most 64"):
        near_pairs(extremes, 64, blocks=65)


def test_equal_key_pairs_lists_every_pair_of_equal_keys_once():
    keys = np.random.default_rng(0).integers(0, 20, 200)
    a, b = equal_key_pairs(keys)
    expected = {
        (i, j)
        for i in range(len(keys))
        for j in range(i + 1, len(keys))
        if keys[i] == keys[j]
    }
    assert set(zip(a.tolist(), b.tolist(), strict=True)) == expected
    assert len(a) == len(expected)
    assert len(equal_key_pairs(np.arange(5))[0]) == 0
    assert len(equal_key_pairs(np.empty(0, int))[0]) == 0


def test_hex_to_uint64_reads_imagehash_strings():
    values = np.random.default_rng(1).integers(0, 2**64 - 1, 50, dtype=np.uint64)
    hashes = pd.Series([f"{int(v):016x}" for v in values])
    assert np.array_equal(hex_to_uint64(hashes), values)
    assert hex_to_uint64(pd.Series([], dtype=str)).shape == (0,)
    with pytest.raises(ValueError, match="1 hashes are not 16 hexadecimal digits"):
        hex_to_uint64(pd.Series(["00ff", "d21c48a72dd93aec"]))
    with pytest.raises(ValueError, match="pHashes must be hexadecimal"):
        hex_to_uint64(pd.Series(["d21c48a72dd93aeg"]))
