"""Exact search for pairs of 64-bit hashes within a Hamming distance, in about linear time.

Multi-index hashing, generalised: split the 64 bits into ``m`` blocks. Two hashes that
differ in at most ``d`` bits differ in at most ``d`` of the blocks, so they agree exactly
on at least ``k = m - d`` of them (pigeonhole). For each choice of ``k`` blocks, hashes
are grouped by the value of those blocks (one sort), and only hashes in the same group
are compared. With ``m = d + 1`` (``k = 1``) this is classic multi-index hashing; a
larger ``m`` makes each key longer (``64 k / m`` bits), so far fewer hashes share one, at
the price of more choices of blocks. ``near_pairs`` picks ``m`` from a cost model, or
compares all pairs (in vectorised chunks) where that is cheaper: for a few hundred
hashes, or for distances over about 10 bits (at a million hashes), where the blocks get
too short to tell hashes apart. The answer is exact either way.
"""

from __future__ import annotations

import math
from itertools import combinations, pairwise

import numpy as np
import pandas as pd

BITS = 64
# Relative costs of the cost model, per hash and choice of blocks (mask, sort, group),
# per candidate pair (gather, compare, keep), and per pair compared by brute force:
# measured with NumPy on a 2-vCPU machine, only their ratios matter.
COST_PER_HASH_AND_KEY = 3.0
COST_PER_CANDIDATE = 1.0
COST_PER_BRUTE_FORCE_PAIR = 0.05
# Most choices of blocks a plan may enumerate (the number of sorts).
MAX_KEYS = 256
# Pairs compared at once by the brute-force path (bounds its memory to ~100 MB).
BRUTE_FORCE_CHUNK = 4_000_000


def hex_to_uint64(hashes: pd.Series) -> np.ndarray:
    """64-bit hashes written as 16 hexadecimal digits (as ``imagehash`` does), as uint64."""
    hashes = hashes.astype(str)
    wrong = hashes.str.len() != BITS // 4
    if wrong.any():
        raise ValueError(
            f"{int(wrong.sum())} hashes are not 16 hexadecimal digits, e.g. "
            f"{hashes[wrong].iloc[0]!r}: expected 64-bit pHashes as `imagehash` writes them."
        )
    try:
        packed = bytes.fromhex(hashes.str.cat())
    except ValueError as error:
        raise ValueError(f"pHashes must be hexadecimal: {error}") from error
    return np.frombuffer(packed, dtype=">u8").astype(np.uint64)


def equal_key_pairs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every index pair ``(i, j)``, ``i < j``, with ``keys[i] == keys[j]``, in no set order."""
    n = len(keys)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    run_ends = np.append(np.flatnonzero(ordered[1:] != ordered[:-1]) + 1, n)
    run_lengths = np.diff(run_ends, prepend=0)
    # Each sorted position pairs with every later position of its run.
    partners = np.repeat(run_ends, run_lengths) - np.arange(n) - 1
    left = np.repeat(np.arange(n), partners)
    first = np.repeat(np.cumsum(partners) - partners, partners)
    right = left + 1 + np.arange(len(left)) - first
    a, b = order[left], order[right]
    return np.minimum(a, b), np.maximum(a, b)


def _block_masks(blocks: int) -> list[int]:
    """``blocks`` contiguous bit masks of nearly equal width that cover the 64 bits."""
    edges = [round(i * BITS / blocks) for i in range(blocks + 1)]
    return [((1 << (hi - lo)) - 1) << lo for lo, hi in pairwise(edges)]


def _key_masks(blocks: int, max_distance: int) -> list[int]:
    """One mask per choice of ``blocks - max_distance`` blocks."""
    return [
        sum(chosen)
        for chosen in combinations(_block_masks(blocks), blocks - max_distance)
    ]


def _index_cost(n: int, blocks: int, max_distance: int) -> float:
    """Expected cost of the index with ``blocks`` blocks on ``n`` uniform random hashes."""
    if math.comb(blocks, blocks - max_distance) > MAX_KEYS:
        return math.inf
    masks = _key_masks(blocks, max_distance)
    candidates = sum(n * (n - 1) / 2 / 2 ** int(mask).bit_count() for mask in masks)
    return len(masks) * n * COST_PER_HASH_AND_KEY + candidates * COST_PER_CANDIDATE


def plan(n: int, max_distance: int) -> int | None:
    """The cheapest number of blocks for ``n`` hashes, or ``None`` for brute force."""
    brute_force = n * (n - 1) / 2 * COST_PER_BRUTE_FORCE_PAIR
    costs = {
        blocks: _index_cost(n, blocks, max_distance)
        for blocks in range(max_distance + 1, BITS + 1)
    }
    best = min(costs, key=costs.get, default=None)
    if best is None or costs[best] >= brute_force:
        return None
    return best


def _brute_force(bits: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair compared, a chunk of rows at a time against the hashes after them."""
    n = len(bits)
    rows_per_chunk = max(1, BRUTE_FORCE_CHUNK // n)
    rows, cols = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for start in range(0, n, rows_per_chunk):
        stop = min(n, start + rows_per_chunk)
        distance = np.bitwise_count(bits[start:stop, None] ^ bits[None, start:])
        later = np.arange(start, n)[None, :] > np.arange(start, stop)[:, None]
        row, col = np.nonzero((distance <= max_distance) & later)
        rows.append(row + start)
        cols.append(col + start)
    return np.concatenate(rows), np.concatenate(cols)


def _index_search(
    bits: np.ndarray, max_distance: int, blocks: int
) -> tuple[np.ndarray, np.ndarray]:
    n = len(bits)
    found = []
    for mask in _key_masks(blocks, max_distance):
        a, b = equal_key_pairs(bits & np.uint64(mask))
        close = np.bitwise_count(bits[a] ^ bits[b]) <= max_distance
        found.append(a[close].astype(np.int64) * n + b[close])
    codes = np.unique(np.concatenate(found))
    return codes // n, codes % n


def near_pairs(
    bits: np.ndarray, max_distance: int, blocks: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)``, ``i < j``, whose hashes differ in at most ``max_distance`` bits.

    Returns ``(rows, cols, distances)`` as int64 arrays sorted by ``(i, j)``, as the
    all-pairs comparison would. ``blocks`` forces the number of blocks of the index
    (``max_distance < blocks <= 64``); by default ``plan`` chooses.
    """
    bits = np.asarray(bits, dtype=np.uint64)
    if max_distance < 0:
        raise ValueError(f"max_distance must be 0 or more, got {max_distance}.")
    if blocks is None:
        blocks = plan(len(bits), max_distance)
    elif not max_distance < blocks <= BITS:
        raise ValueError(
            f"blocks must be over max_distance ({max_distance}) and at most {BITS}, "
            f"got {blocks}."
        )
    if len(bits) < 2:
        rows = cols = np.empty(0, np.int64)
    elif blocks is None:
        rows, cols = _brute_force(bits, max_distance)
    else:
        rows, cols = _index_search(bits, max_distance, blocks)
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    distances = np.bitwise_count(bits[rows] ^ bits[cols]).astype(np.int64)
    return rows, cols, distances
