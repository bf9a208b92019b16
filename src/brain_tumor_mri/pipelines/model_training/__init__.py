"""Model training on the cached splits, tracked in MLflow."""

from brain_tumor_mri.pipelines.model_training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
