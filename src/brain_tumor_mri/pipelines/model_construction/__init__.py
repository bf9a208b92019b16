"""ResNet-50 model construction: the untrained model and its summary."""

from brain_tumor_mri.pipelines.model_construction.pipeline import create_pipeline

__all__ = ["create_pipeline"]
