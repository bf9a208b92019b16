"""The project's Kedro datasets, one module each, as in kedro-datasets."""

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

__all__ = [
    "LocalFilesDataset",
    "MlflowKerasModelDataset",
    "MlflowKerasModelUriDataset",
    "MlflowModelCalibrationDataset",
    "MlflowPandasInputDataset",
    "MlflowServableModelDataset",
    "MlflowTagsDataset",
    "ModelWithExample",
    "NumpyArraysDataset",
    "OptionalPartitionedDataset",
]
