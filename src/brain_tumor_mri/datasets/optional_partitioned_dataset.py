"""A ``PartitionedDataset`` of a folder that a run may go without."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kedro.io import AbstractDataset
from kedro_datasets.partitions import PartitionedDataset


class OptionalPartitionedDataset(PartitionedDataset):
    """kedro-datasets' ``PartitionedDataset`` whose folder is optional.

    Without a ``path`` (null) it loads ``{}``: no partitions, nothing to read. With
    one, it is ``PartitionedDataset`` itself.

    Examples:
        Using the YAML API:

        ```yaml
        external_test_images:
          type: brain_tumor_mri.datasets.OptionalPartitionedDataset
          path: ${runtime_params:external_test_dir,null}
          dataset:
            type: text.TextDataset
            fs_args:
              open_args_load:
                mode: rb
        ```

        Using the Python API:

        >>> OptionalPartitionedDataset(path=None, dataset="text.TextDataset").load()
        {}
    """

    def __init__(  # noqa: PLR0913 (PartitionedDataset's own arguments)
        self,
        *,
        path: str | None,
        dataset: str | type[AbstractDataset] | dict[str, Any],
        filename_suffix: str = "",
        credentials: dict[str, Any] | None = None,
        load_args: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates a new instance of ``OptionalPartitionedDataset``.

        Args:
            path: The folder of the partitions; None for none.
            dataset: The dataset of each partition, as in ``PartitionedDataset``.
            filename_suffix: Only files whose names end with it are partitions.
            credentials: Credentials of the file system, as in ``PartitionedDataset``.
            load_args: Arguments of the file system's ``find``.
            fs_args: Arguments of the file system, as in ``PartitionedDataset``.
            metadata: Any arbitrary metadata; ignored by Kedro.
        """
        self._absent = path is None
        super().__init__(
            path=path or ".",
            dataset=dataset,
            filename_suffix=filename_suffix,
            credentials=credentials,
            load_args=load_args,
            fs_args=fs_args,
            metadata=metadata,
        )

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
