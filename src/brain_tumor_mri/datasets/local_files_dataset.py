"""A Kedro dataset of every file under a local folder, symbolic links followed."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset, DatasetError

LOOP_REASON = "symbolic link loop (a link to a folder that contains it), not followed"


class SymlinkLoopError(OSError):
    """A symbolic link to a folder that contains it: following it would never end."""


class LinkedFolderListedError(OSError):
    """A symbolic link to a folder that is listed already, at its own place or through
    another link: following it would list its files twice, under another folder."""


def _raise(error: OSError) -> bytes:
    raise error


def _is_folder(entry: os.DirEntry) -> bool:
    """Whether an entry is a folder, or a link to one; a broken link or a link that
    points at itself is not (reading it reports why)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


class _Listing:
    """The walk of ``list_files``: folders first, then the links to folders that lead
    to a folder not listed yet."""

    def __init__(self) -> None:
        self.files: dict[str, Callable[[], bytes]] = {}
        # Real path of each folder listed: the path it is listed under.
        self.listed: dict[str, PurePosixPath] = {}
        self.links: list[tuple[PurePosixPath, Path, frozenset[str]]] = []

    def walk(
        self, directory: Path, relative: PurePosixPath, chain: frozenset[str]
    ) -> None:
        self.listed[os.path.realpath(directory)] = relative
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as error:
            self.files[str(relative)] = partial(_raise, error)
            return
        for entry in entries:
            path = relative / entry.name
            if not _is_folder(entry):
                self.files[str(path)] = Path(entry.path).read_bytes
                continue
            real = os.path.realpath(entry.path)
            if real in chain:
                self._refuse(path, SymlinkLoopError(errno.ELOOP, LOOP_REASON))
            elif entry.is_symlink():
                self.links.append((path, Path(entry.path), chain | {real}))
            else:
                self.walk(Path(entry.path), path, chain | {real})

    def follow_links(self) -> None:
        """Follow each link to a folder that is not listed yet, once, in path order."""
        while self.links:
            self.links.sort(key=lambda link: link[0])
            path, link, chain = self.links.pop(0)
            real = os.path.realpath(link)
            if real in self.listed:
                listed = self.listed[real]
                self._refuse(
                    path,
                    LinkedFolderListedError(
                        errno.ELOOP,
                        f"symbolic link to the folder '{listed}', listed there, "
                        "not followed",
                    ),
                )
            else:
                self.walk(link, path, chain)

    def _refuse(self, path: PurePosixPath, error: OSError) -> None:
        self.files[str(path)] = partial(_raise, error)


def list_files(folder: Path) -> dict[str, Callable[[], bytes]]:
    """``{path relative to folder: function that reads its bytes}`` of every file
    under ``folder``, in sorted order.

    Symbolic links to folders are followed, each folder once: a link to a folder
    that is listed already (a sibling folder, or one that another link reached first)
    is one entry whose function raises ``LinkedFolderListedError``, a link that leads
    back to a folder it is in (a loop) one that raises ``SymlinkLoopError``, and a
    folder that cannot be listed one that raises its ``OSError``: each is reported
    once, by the file's reader, instead of being skipped silently (or its files
    listed twice, under another folder). A broken link to a file, or a link to
    itself, is an entry whose reader raises the ``OSError`` of reading it.
    """
    listing = _Listing()
    listing.walk(folder, PurePosixPath(), frozenset({os.path.realpath(folder)}))
    listing.follow_links()
    return dict(sorted(listing.files.items()))


class LocalFilesDataset(AbstractDataset[None, dict[str, Callable[[], bytes]]]):
    """``LocalFilesDataset`` loads every file under a local folder as
    ``{relative path: function that reads its bytes}``, like kedro-datasets'
    ``PartitionedDataset`` of ``TextDataset(mode="rb")``, with two differences:
    symbolic links to folders are followed, each folder once (a loop, or a link to
    a folder listed already, is one entry whose read fails with ``SymlinkLoopError``
    or ``LinkedFolderListedError``), and a file that cannot be read raises the plain
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
