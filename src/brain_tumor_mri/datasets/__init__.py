"""Project-specific Kedro datasets."""

from brain_tumor_mri.datasets.numpy_arrays_dataset import NumpyArraysDataset

__all__ = ["NumpyArraysDataset"]
