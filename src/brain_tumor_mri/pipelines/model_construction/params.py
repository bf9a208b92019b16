"""The schema of the ``model_construction`` parameter group (``conf/base/parameters_model_construction.yml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import h5py
from pydantic import AfterValidator, Field

from brain_tumor_mri.config.base import StrictModel

Fraction = Annotated[float, Field(ge=0, lt=1)]


class HeadParams(StrictModel):
    pooling: Literal["avg", "max", "flatten"]
    hidden_units: list[Annotated[int, Field(ge=1)]] = []
    activation: str = "relu"
    batch_norm: bool = False
    dropout: Fraction


def _weights_source(weights: str | None) -> str | None:
    """``imagenet``, null, or the path of an HDF5 file (relative to the project)."""
    if weights is None or weights == "imagenet":
        return weights
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ValueError(
            f"no weights file at '{path}' (relative paths start at {Path.cwd()}). Use "
            "'imagenet', null (random initialisation) or the path of a ResNet-50 "
            "weights file without top (.h5 or .weights.h5)"
        )
    if not h5py.is_hdf5(path):
        raise ValueError(
            f"'{path}' is not a Keras weights file (HDF5, .h5 or .weights.h5). Use "
            "'imagenet', null (random initialisation) or the path of a ResNet-50 "
            "weights file without top"
        )
    return weights


class ModelConstructionParams(StrictModel):
    weights: Annotated[str | None, AfterValidator(_weights_source)]
    head: HeadParams


SCHEMAS: dict[str, Any] = {"model_construction": ModelConstructionParams}
