"""A ``PartitionedDataset`` of a folder that a run may go without."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kedro_datasets.partitions import PartitionedDataset


class OptionalPartitionedDataset(PartitionedDataset):
    """kedro-datasets' ``PartitionedDataset`` whose folder is optional.

    Without a ``path`` (null) it loads ``{}``: no partitions, nothing to read. With
    one, it is ``PartitionedDataset`` itself.

    Example usage for the YAML API:

    .. code-block:: yaml

        external_test_images:
          type: brain_tumor_mri.datasets.OptionalPartitionedDataset
          path: ${runtime_params:external_test_dir,null}
          dataset:
            type: text.TextDataset
            fs_args:
              open_args_load:
                mode: rb

    Example usage for the Python API:

    .. code-block:: pycon

        >>> OptionalPartitionedDataset(path=None, dataset="text.TextDataset").load()
        {}
    """

    def __init__(self, *, path: str | None, **kwargs: Any) -> None:
        """Creates a new instance of ``OptionalPartitionedDataset``.

        Args:
            path: The folder of the partitions; None for none.
            **kwargs: ``PartitionedDataset``'s other arguments (``dataset``,
                ``filename_suffix``, ``load_args``, ``metadata``, ...).
        """
        self._absent = path is None
        super().__init__(path=path or ".", **kwargs)

    def load(self) -> dict[str, Callable[[], Any]]:
        return {} if self._absent else super().load()

    def _exists(self) -> bool:
        return not self._absent and super()._exists()

    def _describe(self) -> dict[str, Any]:
        return (
            {**super()._describe(), "path": None}
            if self._absent
            else super()._describe()
        )
