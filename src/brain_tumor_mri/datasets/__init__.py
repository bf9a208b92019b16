"""The project's Kedro datasets, one module each, as in kedro-datasets."""

from brain_tumor_mri.datasets.mlflow_keras_model_dataset import (
    MlflowKerasModelDataset,
    ModelWithExample,
)
from brain_tumor_mri.datasets.mlflow_pandas_input_dataset import (
    MlflowPandasInputDataset,
)
from brain_tumor_mri.datasets.mlflow_tags_dataset import MlflowTagsDataset
from brain_tumor_mri.datasets.numpy_arrays_dataset import NumpyArraysDataset

__all__ = [
    "MlflowKerasModelDataset",
    "MlflowPandasInputDataset",
    "MlflowTagsDataset",
    "ModelWithExample",
    "NumpyArraysDataset",
]
