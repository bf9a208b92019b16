"""The project's Kedro datasets, one module each, as in kedro-datasets.

As kedro-datasets' own packages do, each dataset is imported on first use (a module
``__getattr__``, PEP 562): the catalog's ``type: brain_tumor_mri.datasets.X`` and
``from brain_tumor_mri.datasets import X`` import X's module alone, so that a module
that needs ``NumpyArraysDataset`` does not import TensorFlow with the Keras datasets.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brain_tumor_mri.datasets.local_files_dataset import LocalFilesDataset
    from brain_tumor_mri.datasets.mlflow_keras_model_dataset import (
        MlflowKerasModelDataset,
        ModelWithExample,
    )
    from brain_tumor_mri.datasets.mlflow_keras_model_uri_dataset import (
        MlflowKerasModelUriDataset,
    )
    from brain_tumor_mri.datasets.mlflow_model_calibration_dataset import (
        MlflowModelCalibrationDataset,
    )
    from brain_tumor_mri.datasets.mlflow_model_version_dataset import (
        MlflowModelVersionDataset,
        SourceModel,
    )
    from brain_tumor_mri.datasets.mlflow_pandas_input_dataset import (
        MlflowPandasInputDataset,
    )
    from brain_tumor_mri.datasets.mlflow_servable_model_dataset import (
        MlflowServableModelDataset,
    )
    from brain_tumor_mri.datasets.mlflow_tags_dataset import MlflowTagsDataset
    from brain_tumor_mri.datasets.numpy_arrays_dataset import NumpyArraysDataset
    from brain_tumor_mri.datasets.optional_partitioned_dataset import (
        OptionalPartitionedDataset,
    )
    from brain_tumor_mri.datasets.png_files_dataset import PngFilesDataset

# Each public name and the module of this package that defines it.
_MODULE_OF = {
    "LocalFilesDataset": "local_files_dataset",
    "MlflowKerasModelDataset": "mlflow_keras_model_dataset",
    "MlflowKerasModelUriDataset": "mlflow_keras_model_uri_dataset",
    "MlflowModelCalibrationDataset": "mlflow_model_calibration_dataset",
    "MlflowModelVersionDataset": "mlflow_model_version_dataset",
    "MlflowPandasInputDataset": "mlflow_pandas_input_dataset",
    "MlflowServableModelDataset": "mlflow_servable_model_dataset",
    "MlflowTagsDataset": "mlflow_tags_dataset",
    "ModelWithExample": "mlflow_keras_model_dataset",
    "NumpyArraysDataset": "numpy_arrays_dataset",
    "OptionalPartitionedDataset": "optional_partitioned_dataset",
    "PngFilesDataset": "png_files_dataset",
    "SourceModel": "mlflow_model_version_dataset",
}

__all__ = [
    "LocalFilesDataset",
    "MlflowKerasModelDataset",
    "MlflowKerasModelUriDataset",
    "MlflowModelCalibrationDataset",
    "MlflowModelVersionDataset",
    "MlflowPandasInputDataset",
    "MlflowServableModelDataset",
    "MlflowTagsDataset",
    "ModelWithExample",
    "NumpyArraysDataset",
    "OptionalPartitionedDataset",
    "PngFilesDataset",
    "SourceModel",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_MODULE_OF[name]}")
    return getattr(module, name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
