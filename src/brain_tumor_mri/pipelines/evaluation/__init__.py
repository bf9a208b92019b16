"""Class probabilities of the trained model on each split, and their metrics."""

from brain_tumor_mri.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
