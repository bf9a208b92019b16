"""Logs the trained model as a servable MLflow model and registers it."""

from brain_tumor_mri.framework.lazy_pipeline import lazy_create_pipeline

__all__ = ["create_pipeline"]

# create_pipeline is imported from pipeline.py on first use.
__getattr__ = lazy_create_pipeline(__name__)
