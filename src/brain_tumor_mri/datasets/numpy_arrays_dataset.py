"""A Kedro dataset that stores a dict of NumPy arrays as a folder of ``.npy`` files."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError


def _write_chunks(file: Path, chunks: Iterable[np.ndarray]) -> None:
    """Write arrays, concatenated along axis 0, as one ``.npy`` file, one chunk at a time."""
    raw = file.with_suffix(".raw")
    count, template = 0, None
    with raw.open("wb") as out:
        for chunk in map(np.ascontiguousarray, chunks):
            template = chunk if template is None else template
            if chunk.shape[1:] != template.shape[1:] or chunk.dtype != template.dtype:
                raise ValueError(
                    f"Chunk of shape {chunk.shape} and dtype {chunk.dtype} does not match "
                    f"the first chunk's {template.shape} {template.dtype} in '{file}'."
                )
            out.write(chunk.tobytes())
            count += len(chunk)
    if template is None:
        raise ValueError(f"No chunks to write to '{file}'.")
    header = {
        "descr": np.lib.format.dtype_to_descr(template.dtype),
        "fortran_order": False,
        "shape": (count, *template.shape[1:]),
    }
    with file.open("wb") as out, raw.open("rb") as data:
        np.lib.format.write_array_header_1_0(out, header)
        shutil.copyfileobj(data, out, length=16 << 20)
    raw.unlink()


class NumpyArraysDataset(AbstractDataset[dict[str, Any], dict[str, np.ndarray]]):
    """``NumpyArraysDataset`` saves ``{name: array}`` as ``<path>/<name>.npy`` and
    loads them memory-mapped.

    A value may also be an iterable of arrays (e.g. a generator of decoded batches):
    they are written one after the other as one array, so a large split never has to
    be held in memory. Memory-mapping on load lets a ``tf.data`` pipeline stream the
    cached images from disk instead of holding a copy of the whole split. A save
    writes a sibling ``<path>.tmp`` folder first and replaces ``path`` with it.

    Examples:
        Using the YAML API:

        ```yaml
        "{split}_cache":
          type: brain_tumor_mri.datasets.NumpyArraysDataset
          path: data/05_model_input/{split}
        ```

        Using the Python API:

        >>> dataset = NumpyArraysDataset(path=tmp_path / "train")
        >>> dataset.save({"images": np.zeros((2, 4, 4, 3), "uint8")})
        >>> dataset.load()["images"].shape
        (2, 4, 4, 3)
    """

    def __init__(
        self,
        *,
        path: str | Path,
        mmap: bool = True,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a new instance of ``NumpyArraysDataset``.

        Args:
            path: Local folder of the ``.npy`` files, one per key.
            mmap: Whether ``load`` memory-maps the arrays (read-only) instead of
                reading them into memory.
            metadata: Any arbitrary metadata. This is ignored by Kedro, but may be
                consumed by users or external plugins.
        """
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

    def save(self, data: dict[str, Any]) -> None:
        tmp = self._path.with_name(self._path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name, value in data.items():
            if isinstance(value, np.ndarray | list | tuple):
                np.save(tmp / f"{name}.npy", np.asarray(value), allow_pickle=False)
            else:
                _write_chunks(tmp / f"{name}.npy", value)
        shutil.rmtree(self._path, ignore_errors=True)
        tmp.rename(self._path)

    def _exists(self) -> bool:
        return any(self._path.glob("*.npy"))

    def _describe(self) -> dict[str, Any]:
        return {"path": str(PurePosixPath(self._path)), "mmap": self._mmap}
