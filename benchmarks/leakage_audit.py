"""Leakage audit benchmark: the ``audit_leakage`` node on synthetic collections, before and after.

For each size, a synthetic frame shaped like ``validated_images`` (path, split, label,
sha256, phash) of uniform random 64-bit pHashes, with planted duplicates: 1 % of the
images are near copies of another image at every distance 0..d (d is
``preprocessing.near_duplicate_max_distance`` of conf/base), 0.1 % exact copies (same
sha256 and pHash), and 0.5 % decoys at distance d + 1. Every planted pair at distance
<= d must be found and no decoy; the script stops otherwise.

- after: the node as it is (multi-index search of ``near_duplicates``, vectorised exact
  pairs), and, for the split that follows, ``_duplicate_clusters`` on its pairs;
- before: the same node with the search functions it had before issue 11 (copied below,
  for this comparison only: a Python loop over every image against all later ones, and a
  Python loop over the pairs of each sha256 group), run only up to ``--before-up-to``
  images; above that its time is extrapolated as quadratic from the largest measured
  size (marked ``~``). Where both run, their outputs must be identical.

    python benchmarks/leakage_audit.py [--sizes 10000 100000 1000000] [--before-up-to 100000]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from brain_tumor_mri.pipelines.preprocessing import leakage, nodes
from brain_tumor_mri.pipelines.preprocessing.near_duplicates import (
    hex_to_uint64,
    near_pairs,
)

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor")


def old_phash_bits(hashes: pd.Series) -> np.ndarray:
    return np.array([int(value, 16) for value in hashes], dtype=np.uint64)


def old_near_pairs(
    bits: np.ndarray, max_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The search before issue 11: every hash against all later ones, in a Python loop."""
    rows, cols, dists = [], [], []
    for i in range(len(bits) - 1):
        distance = np.bitwise_count(bits[i + 1 :] ^ bits[i])
        (close,) = np.nonzero(distance <= max_distance)
        rows.append(np.full(close.size, i))
        cols.append(close + i + 1)
        dists.append(distance[close])
    if not rows:
        return np.empty(0, int), np.empty(0, int), np.empty(0, int)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(dists).astype(int)


def old_exact_pairs(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exact pairs before issue 11 (it grouped the sha256 strings, here their codes)."""
    rows, cols = [], []
    sha256 = pd.Series(codes)
    for members in sha256.groupby(sha256).indices.values():
        for position, i in enumerate(members):
            for j in members[position + 1 :]:
                rows.append(i)
                cols.append(j)
    return np.array(rows, dtype=int), np.array(cols, dtype=int)


def before_node(images: pd.DataFrame, params: dict) -> tuple[pd.DataFrame, dict]:
    """``audit_leakage`` with the search functions it had before issue 11."""
    saved = leakage.hex_to_uint64, leakage.near_pairs, leakage.equal_key_pairs
    leakage.hex_to_uint64, leakage.near_pairs, leakage.equal_key_pairs = (
        old_phash_bits,
        old_near_pairs,
        old_exact_pairs,
    )
    try:
        return nodes.audit_leakage(images, params)
    finally:
        leakage.hex_to_uint64, leakage.near_pairs, leakage.equal_key_pairs = saved


def bit_masks(count: int, flips: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` uint64 masks with exactly ``flips`` bits set each."""
    chosen = np.argsort(rng.random((count, 64)), axis=1)[:, :flips].astype(np.uint64)
    masks = np.zeros(count, np.uint64)
    for column in chosen.T:
        masks |= np.uint64(1) << column
    return masks


def synthetic_images(
    size: int, max_distance: int, seed: int = 0
) -> tuple[pd.DataFrame, set[tuple[int, int]], set[tuple[int, int]]]:
    """A ``validated_images``-like frame, the planted pairs and the decoy pairs."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2**64 - 1, size, dtype=np.uint64, endpoint=True)
    sha256 = np.frombuffer(os.urandom(32 * size).hex().encode(), dtype="S64").copy()
    near, exact, decoys = size // 100, size // 1000, size // 200
    sources, targets = rng.permutation(size)[: 2 * (near + exact + decoys)].reshape(
        2, -1
    )
    distances = np.concatenate(
        [np.arange(near) % (max_distance + 1), np.full(decoys, max_distance + 1)]
    )
    moved = np.r_[0:near, near + exact : near + exact + decoys]
    for flips in np.unique(distances):
        chosen = moved[distances == flips]
        bits[targets[chosen]] = bits[sources[chosen]] ^ bit_masks(
            len(chosen), int(flips), rng
        )
    copies = slice(near, near + exact)
    bits[targets[copies]] = bits[sources[copies]]
    sha256[targets[copies]] = sha256[sources[copies]]
    pairs = [tuple(sorted(p)) for p in zip(sources, targets, strict=True)]
    split = np.where(rng.random(size) < 0.12, "test", "train")
    label = np.asarray(CLASSES)[rng.integers(0, len(CLASSES), size)]
    folder = np.where(split == "test", "Testing", "Training")
    frame = pd.DataFrame(
        {
            "path": pd.Series(folder, dtype=object)
            + "/"
            + label
            + "/img_"
            + pd.Series(np.arange(size)).astype(str).str.zfill(7)
            + ".jpg",
            "split": split,
            "label": label,
            "sha256": sha256.astype(str),
            "phash": [f"{value:016x}" for value in bits.tolist()],
        }
    )
    return frame, set(pairs[: near + exact]), set(pairs[near + exact :])


def timed(function: Callable, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def found_index_pairs(images: pd.DataFrame, pairs: pd.DataFrame) -> set:
    position = pd.Index(images["path"])
    a = position.get_indexer(pairs["path_a"])
    b = position.get_indexer(pairs["path_b"])
    return set(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist(), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000]
    )
    parser.add_argument("--before-up-to", type=int, default=100_000)
    args = parser.parse_args()
    conf = yaml.safe_load((ROOT / "conf/base/parameters_preprocessing.yml").read_text())
    params = conf["preprocessing"]
    max_distance = params["near_duplicate_max_distance"]
    print(f"near_duplicate_max_distance {max_distance}, {os.cpu_count()} CPUs")
    header = (
        f"{'images':>9} {'planted':>8} {'found':>7} {'after s':>8} {'search s':>9} "
        f"{'clusters s':>11} {'before s':>10} {'speed-up':>9}"
    )
    print(header)
    measured_before: tuple[int, float] | None = None
    for size in args.sizes:
        images, planted, decoys = synthetic_images(size, max_distance)
        after_s, (pairs, summary) = timed(nodes.audit_leakage, images, params)
        search_s, _ = timed(near_pairs, hex_to_uint64(images["phash"]), max_distance)
        found = found_index_pairs(images, pairs)
        if missing := planted - found:
            raise SystemExit(f"{len(missing)} planted pairs not found at {size}")
        if wrong := decoys & found:
            raise SystemExit(f"{len(wrong)} decoys at distance d + 1 found at {size}")
        clusters_s, _ = timed(nodes._duplicate_clusters, images["path"], pairs)
        if size <= args.before_up_to:
            before_s, (old_pairs, old_summary) = timed(before_node, images, params)
            if not (old_pairs.equals(pairs) and old_summary == summary):
                raise SystemExit(f"before and after disagree at {size}")
            measured_before = (size, before_s)
            before = f"{before_s:10.2f}"
        elif measured_before:
            base_size, base_s = measured_before
            before_s = base_s * (size / base_size) ** 2
            before = f"~{before_s:9.0f}"
        else:
            before_s, before = float("nan"), f"{'-':>10}"
        print(
            f"{size:>9} {len(planted):>8} {len(found):>7} {after_s:>8.2f} "
            f"{search_s:>9.2f} {clusters_s:>11.2f} {before} {before_s / after_s:>8.0f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
