"""The reporting pipeline reads only the predictions that evaluation writes."""

from __future__ import annotations

from brain_tumor_mri.pipelines.evaluation import pipeline as evaluation
from brain_tumor_mri.pipelines.reporting import pipeline as reporting


def test_every_prediction_that_reporting_reads_is_one_that_evaluation_writes() -> None:
    evaluated = evaluation.create_pipeline().all_outputs()
    read = {
        name
        for name in reporting.create_pipeline().inputs()
        if name.endswith("_calibrated_predictions")
    }
    assert read
    assert read <= evaluated
