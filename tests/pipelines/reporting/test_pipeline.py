"""The reporting pipeline draws exactly the splits that evaluation measures."""

from __future__ import annotations

from brain_tumor_mri.pipelines.evaluation import pipeline as evaluation
from brain_tumor_mri.pipelines.reporting import pipeline as reporting


def test_reporting_draws_every_evaluated_split_from_its_own_images() -> None:
    assert list(reporting.REPORTED_SPLITS) == list(evaluation.EVALUATED_SPLITS)
    for split, images in reporting.REPORTED_SPLITS.items():
        assert images == evaluation.images_of(split)


def test_every_prediction_that_reporting_reads_is_one_that_evaluation_writes() -> None:
    evaluated = evaluation.create_pipeline().all_outputs()
    read = {
        name
        for name in reporting.create_pipeline().inputs()
        if name.endswith("_calibrated_predictions")
    }
    assert read
    assert read <= evaluated
