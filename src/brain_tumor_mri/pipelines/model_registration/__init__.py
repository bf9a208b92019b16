"""Logs the trained model as a servable MLflow model and registers it."""

from brain_tumor_mri.pipelines.model_registration.pipeline import create_pipeline

__all__ = ["create_pipeline"]
