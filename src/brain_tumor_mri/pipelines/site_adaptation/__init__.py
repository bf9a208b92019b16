"""Adapts a registered model to a new site's unlabelled images and registers the result."""

from brain_tumor_mri.framework.lazy_pipeline import lazy_create_pipeline

__all__ = ["create_pipeline"]

# create_pipeline is imported from pipeline.py on first use.
__getattr__ = lazy_create_pipeline(__name__)
