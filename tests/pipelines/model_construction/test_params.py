"""The model parameters: the shipped ones fit their schemas, and a wrong one is named
before a run."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader
from pydantic import ValidationError

from brain_tumor_mri.config.base import StrictModel
from brain_tumor_mri.pipelines.model_construction.params import ModelConstructionParams
from brain_tumor_mri.pipelines.model_training.params import ModelTrainingParams
from brain_tumor_mri.settings import CONFIG_LOADER_ARGS
from tests.conftest import PROJECT_ROOT

HEAD = {"pooling": "avg", "hidden_units": [], "dropout": 0.3}
MODEL_PARAMETER_SCHEMAS = {
    "model_construction": ModelConstructionParams,
    "model_training": ModelTrainingParams,
}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"pooling": "mean"}, r"head\.pooling\n  Input should be 'avg', 'max' or"),
        ({"dropout": 1.5}, r"head\.dropout\n  Input should be less than 1"),
    ],
)
def test_bad_head_parameters_are_named(change: dict, message: str):
    """Checked with the other parameters, before the run; build_classifier trusts them."""
    params = {"weights": None, "head": {**HEAD, **change}}
    with pytest.raises(ValidationError, match=message):
        MODEL_PARAMETER_SCHEMAS["model_construction"].model_validate(params)


def project_parameters(env: str) -> dict:
    loader = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"),
        **{**CONFIG_LOADER_ARGS, "default_run_env": env},
    )
    return loader["parameters"]


def test_missing_weights_file_is_named(tmp_path: Path):
    params = project_parameters("local")["model_construction"]
    params["weights"] = str(tmp_path / "missing.h5")
    with pytest.raises(ValidationError, match="no weights file at .*imagenet.*null"):
        MODEL_PARAMETER_SCHEMAS["model_construction"].model_validate(params)
    for weights in ("imagenet", None):
        params["weights"] = weights
        MODEL_PARAMETER_SCHEMAS["model_construction"].model_validate(params)


@pytest.mark.parametrize("env", ["local", "quick"])
def test_shipped_model_parameters_fit_their_schemas(env: str):
    params = project_parameters(env)
    for key, schema in MODEL_PARAMETER_SCHEMAS.items():
        assert issubclass(schema, StrictModel)
        schema.model_validate(params[key])


def test_wrong_model_parameters_are_named():
    params = project_parameters("local")
    params["model_training"]["precision"] = "half"
    params["model_construction"]["head"]["dropuot"] = 0.2
    for key, field in (
        ("model_training", "precision"),
        ("model_construction", "dropuot"),
    ):
        with pytest.raises(ValidationError, match=field):
            MODEL_PARAMETER_SCHEMAS[key].model_validate(params[key])
