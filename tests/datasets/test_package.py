"""The datasets package (datasets/__init__.py): every dataset module exported, and each
class following kedro-datasets' conventions."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from kedro.io import AbstractDataset

from brain_tumor_mri import datasets
from brain_tumor_mri.datasets import NumpyArraysDataset
from tests.helpers.datasets import DATASET_CLASSES


def test_every_dataset_of_the_package_is_exported():
    modules = {
        path.stem
        for path in Path(datasets.__file__).parent.glob("*_dataset.py")
        if path.is_file()
    }
    exported = {cls.__module__.rsplit(".", 1)[-1] for cls in DATASET_CLASSES}
    assert modules == exported


@pytest.mark.parametrize("cls", DATASET_CLASSES, ids=lambda cls: cls.__name__)
def test_datasets_follow_kedro_datasets_conventions(cls: type[AbstractDataset]):
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert parameters, cls
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters), cls
    assert "metadata" in {p.name for p in parameters}
    assert "```yaml" in cls.__doc__ and "type: brain_tumor_mri.datasets." in cls.__doc__
    assert "Args:" in cls.__init__.__doc__
    documented = {p.name for p in parameters}
    assert all(f"{name}:" in cls.__init__.__doc__ for name in documented), cls
    assert "_describe" in vars(cls), f"{cls.__name__} does not describe itself"


def test_a_positional_argument_is_refused(tmp_path: Path):
    with pytest.raises(TypeError):
        NumpyArraysDataset(tmp_path)  # type: ignore[misc]
