"""A pipeline package gives its ``create_pipeline`` on first use, and nothing else."""

from __future__ import annotations

import pytest

from brain_tumor_mri.framework.lazy_pipeline import lazy_create_pipeline
from brain_tumor_mri.pipelines import inference
from brain_tumor_mri.pipelines.inference.pipeline import create_pipeline


def test_a_pipeline_package_gives_its_create_pipeline_and_nothing_else():
    assert inference.create_pipeline is create_pipeline
    assert "create_pipeline" in inference.__all__
    with pytest.raises(AttributeError, match="no attribute 'not_a_pipeline'"):
        _ = inference.not_a_pipeline
    getattr_of = lazy_create_pipeline("brain_tumor_mri.pipelines.inference")
    assert getattr_of("create_pipeline") is create_pipeline
