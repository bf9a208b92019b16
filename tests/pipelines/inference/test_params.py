"""The inference parameters: a wrong one is named before a run."""

from __future__ import annotations

import pytest

from brain_tumor_mri.config.parameters import ParameterError, check_parameters


def test_parameters_are_checked(tmp_path):
    check_parameters({"input_dir": str(tmp_path), "model_uri": None})
    with pytest.raises(ParameterError, match=r"input_dir: .*at least 1 character"):
        check_parameters({"input_dir": ""})
    with pytest.raises(ParameterError, match=r"inference\.batch_size"):
        check_parameters({"inference": {"batch_size": 0}})
