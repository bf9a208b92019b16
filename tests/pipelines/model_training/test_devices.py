"""The hardware setup of a training run."""

from __future__ import annotations

import pytest

from brain_tumor_mri.config.parameters import ParameterError, check_parameters
from brain_tumor_mri.pipelines.model_training.devices import resolve_training_setup


def test_cpu_setup_and_bad_settings():
    params = {
        "precision": "auto",
        "jit_compile": "auto",
        "deterministic": "auto",
        "distribution": "auto",
    }
    setup = resolve_training_setup(**params)
    assert setup["device"] == "CPU"
    assert (setup["precision"], setup["jit_compile"], setup["deterministic"]) == (
        "float32",
        False,
        True,
    )
    assert setup["strategy"] == "DefaultStrategy (1 replica)"
    # Unknown values are refused with the other parameters, before the run.
    with pytest.raises(ParameterError, match=r"model_training\.precision: .*'half'"):
        check_parameters({"model_training": {"precision": "half"}})
