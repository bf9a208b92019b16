"""A Kedro dataset of every file under a local folder, symbolic links followed."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset, DatasetError


class SymlinkLoopError(OSError):
    """A symbolic link to a folder that contains it: following it would never end."""


def _raise(error: OSError) -> bytes:
    raise error


def _is_folder(entry: os.DirEntry) -> bool:
    """Whether an entry is a folder, or a link to one; a broken link or a link that
    points at itself is not (reading it reports why)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def list_files(folder: Path) -> dict[str, Callable[[], bytes]]:
    """``{path relative to folder: function that reads its bytes}`` of every file
    under ``folder``, in sorted order.

    Symbolic links to folders are followed; one that leads back to a folder it is in
    (a loop) is one entry whose function raises ``SymlinkLoopError``, and so is a
    folder that cannot be listed (its ``OSError``): each is reported once, by the
    file's reader, instead of being skipped silently.
    """
    files: dict[str, Callable[[], bytes]] = {}

    def walk(directory: Path, relative: PurePosixPath, chain: frozenset[str]) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as error:
            files[str(relative)] = partial(_raise, error)
            return
        for entry in entries:
            path = relative / entry.name
            if not _is_folder(entry):
                files[str(path)] = Path(entry.path).read_bytes
                continue
            real = os.path.realpath(entry.path)
            if real in chain:
                loop = SymlinkLoopError(
                    errno.ELOOP,
                    "symbolic link loop (a link to a folder that contains it), "
                    "not followed",
                )
                files[str(path)] = partial(_raise, loop)
            else:
                walk(Path(entry.path), path, chain | {real})

    walk(folder, PurePosixPath(), frozenset({os.path.realpath(folder)}))
    return dict(sorted(files.items()))


class LocalFilesDataset(AbstractDataset[None, dict[str, Callable[[], bytes]]]):
    """``LocalFilesDataset`` loads every file under a local folder as
    ``{relative path: function that reads its bytes}``, like kedro-datasets'
    ``PartitionedDataset`` of ``TextDataset(mode="rb")``, with two differences:
    symbolic links to folders are followed (a loop is one entry whose read fails
    with ``SymlinkLoopError``), and a file that cannot be read raises the plain
    ``OSError`` of the file, whose reason names no dataset.

    Examples:
        Using the YAML API:

        ```yaml
        inference_images:
          type: brain_tumor_mri.datasets.LocalFilesDataset
          path: data/01_raw/new_images
        ```

        Using the Python API:

        >>> (tmp_path / "a.jpg").write_bytes(b"...")
        >>> LocalFilesDataset(path=tmp_path).load()["a.jpg"]()
        b'...'
    """

    def __init__(
        self, *, path: str | Path, metadata: dict[str, Any] | None = None
    ) -> None:
        """Creates a new instance of ``LocalFilesDataset``.

        Args:
            path: The local folder; sub-folders are searched too.
            metadata: Any arbitrary metadata. This is ignored by Kedro, but may be
                consumed by users or external plugins.
        """
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> dict[str, Callable[[], bytes]]:
        if not self._path.is_dir():
            raise DatasetError(f"No folder at '{self._path}'.")
        return list_files(self._path)

    def save(self, data: None) -> None:
        raise DatasetError("LocalFilesDataset is read-only.")

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(PurePosixPath(self._path))}
