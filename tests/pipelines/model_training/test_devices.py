"""The hardware setup of a training run."""

from __future__ import annotations

import pytest

from brain_tumor_mri.config.parameters import ParameterError, check_parameters
from brain_tumor_mri.pipelines.model_training.devices import (
    automatic_precision,
    cpu_flags,
    resolve_training_setup,
)


def test_automatic_precision_follows_the_hardware(tmp_path):
    assert automatic_precision(1, frozenset())[0] == "mixed_float16"
    assert automatic_precision(0, frozenset({"avx512f", "avx512_bf16"})) == (
        "mixed_bfloat16",
        "the CPU has native bfloat16 (avx512_bf16)",
    )
    assert automatic_precision(0, frozenset({"amx_bf16"}))[0] == "mixed_bfloat16"
    assert automatic_precision(0, frozenset({"avx512f", "avx2"}))[0] == "float32"
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_bf16\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "amx_bf16"}
    assert cpu_flags(tmp_path / "absent") == frozenset()


def test_cpu_setup_and_bad_settings():
    params = {
        "precision": "auto",
        "jit_compile": "auto",
        "deterministic": "auto",
        "distribution": "auto",
    }
    setup = resolve_training_setup(**params)
    assert setup["device"] == "CPU"
    # This machine's choice, whichever CPU runs the test.
    assert setup["precision"] == automatic_precision(0, cpu_flags())[0]
    assert (setup["jit_compile"], setup["deterministic"]) == (False, True)
    assert setup["strategy"] == "DefaultStrategy (1 replica)"
    # Unknown values are refused with the other parameters, before the run.
    with pytest.raises(ParameterError, match=r"model_training\.precision: .*'half'"):
        check_parameters({"model_training": {"precision": "half"}})
