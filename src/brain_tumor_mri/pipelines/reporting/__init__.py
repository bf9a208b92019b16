"""Figures of the run, Grad-CAM heatmaps and the self-contained HTML report."""

from brain_tumor_mri.pipelines.reporting.pipeline import create_pipeline

__all__ = ["create_pipeline"]
