"""The whole chain, run as one MLflow run: ``kedro run --pipelines training``."""

from brain_tumor_mri.pipelines.training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
