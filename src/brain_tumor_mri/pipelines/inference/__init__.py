"""Batch prediction of a folder of new images, with a Grad-CAM overlay per image."""

from brain_tumor_mri.pipelines.inference.pipeline import create_pipeline

__all__ = ["create_pipeline"]
