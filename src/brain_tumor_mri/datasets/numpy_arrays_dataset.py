"""A Kedro dataset that stores a dict of NumPy arrays as a folder of ``.npy`` files."""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError


class NumpyArraysDataset(AbstractDataset[dict[str, np.ndarray], dict[str, np.ndarray]]):
    """Saves ``{name: array}`` as ``<path>/<name>.npy``; loads them memory-mapped.

    Memory-mapping lets a ``tf.data`` pipeline stream the cached images from disk
    instead of holding a copy of the whole split in memory.

    Example:
        >>> dataset = NumpyArraysDataset(path=tmp_path / "train")
        >>> dataset.save({"images": np.zeros((2, 4, 4, 3), "uint8")})
        >>> dataset.load()["images"].shape
        (2, 4, 4, 3)
    """

    def __init__(
        self,
        path: str | Path,
        mmap: bool = True,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._path = Path(path)
        self._mmap = mmap
        self.metadata = metadata

    def load(self) -> dict[str, np.ndarray]:
        files = sorted(self._path.glob("*.npy"))
        if not files:
            raise DatasetError(
                f"No cached arrays in '{self._path}'. Run the preprocessing pipeline "
                "first: kedro run --pipelines preprocessing"
            )
        mode = "r" if self._mmap else None
        return {
            file.stem: np.load(file, mmap_mode=mode, allow_pickle=False)
            for file in files
        }

    def save(self, data: dict[str, np.ndarray]) -> None:
        tmp = self._path.with_name(self._path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name, array in data.items():
            np.save(tmp / f"{name}.npy", np.asarray(array), allow_pickle=False)
        shutil.rmtree(self._path, ignore_errors=True)
        tmp.rename(self._path)

    def _exists(self) -> bool:
        return any(self._path.glob("*.npy"))

    def _describe(self) -> dict[str, Any]:
        return {"path": str(PurePosixPath(self._path)), "mmap": self._mmap}
