"""A Kedro dataset that stores ``{file name: PNG bytes}`` as a folder of files."""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset, DatasetError


class PngFilesDataset(AbstractDataset[dict[str, bytes], dict[str, bytes]]):
    """``PngFilesDataset`` saves ``{"name.png": bytes}`` as ``<filepath>/name.png``, the
    folder replaced as a whole, and loads them back by name.

    The figures of the report are rendered once, by their node, to PNG bytes: this
    writes those bytes as they are (``matplotlib.MatplotlibDataset`` would render each
    figure again).

    Examples:
        Using the YAML API:

        ```yaml
        "{name}_figures":
          type: brain_tumor_mri.datasets.PngFilesDataset
          filepath: data/08_reporting/figures/{name}
        ```

        Using the Python API:

        >>> dataset = PngFilesDataset(filepath=tmp_path / "figures")
        >>> dataset.save({"a.png": b"\\x89PNG..."})
        >>> list(dataset.load())
        ['a.png']
    """

    def __init__(
        self, *, filepath: str | Path, metadata: dict[str, Any] | None = None
    ) -> None:
        """Creates a new instance of ``PngFilesDataset``.

        Args:
            filepath: Local folder of the files, one per key.
            metadata: Any arbitrary metadata; ignored by Kedro.
        """
        self._filepath = PurePosixPath(Path(filepath).as_posix())
        self.metadata = metadata

    def _folder(self) -> Path:
        return Path(self._filepath)

    def load(self) -> dict[str, bytes]:
        folder = self._folder()
        if not folder.is_dir():
            raise DatasetError(f"No folder of figures at '{folder}'.")
        return {file.name: file.read_bytes() for file in sorted(folder.glob("*.png"))}

    def save(self, data: dict[str, bytes]) -> None:
        folder = self._folder()
        for name in data:
            if PurePosixPath(name).name != name or not name.endswith(".png"):
                raise DatasetError(f"'{name}' is not the name of a PNG file.")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, png in data.items():
            (folder / name).write_bytes(png)

    def _exists(self) -> bool:
        return self._folder().is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
