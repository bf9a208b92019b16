"""Mapping a function over images on a pool of threads, with a progress bar."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
from tqdm.auto import tqdm

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(
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


def stacked_batches(
    function: Callable[[T], np.ndarray],
    items: Sequence[T],
    batch_size: int,
    workers: int,
    description: str,
) -> Iterator[np.ndarray]:
    """``function`` over threads, ``batch_size`` items at a time, each batch's results
    stacked into one array; results keep the order of ``items``."""
    progress = tqdm(total=len(items), desc=description, unit="img")
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            yield np.stack(list(pool.map(function, batch)))
            progress.update(len(batch))
    progress.close()
