"""The model construction nodes, with their parameters as Kedro hands them."""

from __future__ import annotations

import numpy as np

from brain_tumor_mri.pipelines.model_construction.nodes import (
    build_model,
    summarise_model,
)
from brain_tumor_mri.pipelines.model_construction.params import ModelConstructionParams
from tests.helpers.raw_folders import CLASSES

# The model_construction group as Kedro hands it: a plain dict, with the head's
# optional keys left to the schema's defaults.
PARAMS = {"weights": None, "head": {"pooling": "max", "dropout": 0.1}}


def test_build_model_takes_the_group_as_a_dict_or_a_schema_object():
    from_dict = build_model([32, 32], CLASSES, 0, PARAMS)
    from_schema = build_model(
        [32, 32], CLASSES, 0, ModelConstructionParams.model_validate(PARAMS)
    )
    for model in (from_dict, from_schema):
        assert model.input_shape == (None, 32, 32, 3)
        assert model.output_shape == (None, len(CLASSES))
        layers = [type(layer).__name__ for layer in model.layers[-3:]]
        assert layers == ["GlobalMaxPooling2D", "Dropout", "Dense"]
    # The same seed gives the same initial weights.
    for left, right in zip(
        from_dict.get_weights(), from_schema.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(left, right)


def test_summary_lists_the_layers():
    model = build_model([32, 32], CLASSES, 0, PARAMS)
    summary = summarise_model(model)
    assert "conv5_block3_out" in summary
    assert f"{model.count_params():,}" in summary
