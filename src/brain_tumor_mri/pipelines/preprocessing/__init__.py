"""Index, validate, audit, split and cache the raw MRI images."""

from brain_tumor_mri.pipelines.preprocessing.pipeline import create_pipeline

__all__ = ["create_pipeline"]
