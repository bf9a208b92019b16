"""Project-specific Kedro datasets."""

from brain_tumor_mri.datasets.mlflow_keras_model_uri_dataset import (
    MlflowKerasModelUriDataset,
)
from brain_tumor_mri.datasets.mlflow_model_calibration_dataset import (
    MlflowModelCalibrationDataset,
)
from brain_tumor_mri.datasets.mlflow_servable_model_dataset import (
    MlflowServableModelDataset,
)
from brain_tumor_mri.datasets.numpy_arrays_dataset import NumpyArraysDataset
from brain_tumor_mri.datasets.optional_partitioned_dataset import (
    OptionalPartitionedDataset,
)

__all__ = [
    "MlflowKerasModelUriDataset",
    "MlflowModelCalibrationDataset",
    "MlflowServableModelDataset",
    "NumpyArraysDataset",
    "OptionalPartitionedDataset",
]
