"""The project's dataset classes, as the package exports them."""

from __future__ import annotations

import inspect

from kedro.io import AbstractDataset

from brain_tumor_mri import datasets

# The package imports each dataset on first use: its names are in __all__.
DATASET_CLASSES = [
    value
    for value in (getattr(datasets, name) for name in datasets.__all__)
    if inspect.isclass(value) and issubclass(value, AbstractDataset)
]
