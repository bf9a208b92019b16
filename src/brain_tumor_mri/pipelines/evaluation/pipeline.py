"""The evaluation pipeline: predict each split, calibrate on validation, compute the
metrics of every split, log them."""

from kedro.pipeline import Pipeline, node, pipeline

from brain_tumor_mri.core.metrics import ADAPTED_SUFFIX, EVALUATED_SPLITS, images_of
from brain_tumor_mri.pipelines.evaluation.nodes import (
    calibrate_probabilities,
    choose_review_threshold,
    collect_metrics,
    evaluate_predictions,
    fit_validation_temperature,
    load_external_test_set,
    predict_adapted_probabilities,
    predict_probabilities,
    record_calibration,
)

# The external split is empty (and not evaluated) unless
# `--params external_test_dir=PATH` names a folder (conf/base/catalog_evaluation.yml).


def create_pipeline(**kwargs) -> Pipeline:
    per_split = [
        nodes
        for split in EVALUATED_SPLITS
        for nodes in (
            node(
                predict_adapted_probabilities
                if split.endswith(ADAPTED_SUFFIX)
                else predict_probabilities,
                inputs=[
                    "trained_model",
                    f"{images_of(split)}_cache",
                    "params:evaluation",
                ],
                outputs=f"{split}_predictions",
                name=f"predict_{split}",
            ),
            node(
                calibrate_probabilities,
                inputs=[f"{split}_predictions", "temperature_fit"],
                outputs=f"{split}_calibrated_predictions",
                name=f"calibrate_{split}",
            ),
            node(
                evaluate_predictions,
                inputs=[
                    f"{split}_predictions",
                    f"{split}_calibrated_predictions",
                    "calibration",
                    "params:classes",
                    "params:source_groups",
                    "params:evaluation",
                ],
                outputs=f"{split}_metrics",
                name=f"evaluate_{split}",
            ),
        )
    ]
    return pipeline(
        [
            node(
                load_external_test_set,
                inputs=[
                    "external_test_images",
                    "params:classes",
                    "params:image_size",
                    "params:image_preprocessing",
                ],
                outputs="external_cache",
                name="load_external_test_set",
            ),
            # Both fitted on the validation split only; test splits are measured only.
            node(
                fit_validation_temperature,
                inputs="val_predictions",
                outputs="temperature_fit",
                name="fit_temperature_on_validation",
            ),
            node(
                choose_review_threshold,
                inputs=[
                    "val_calibrated_predictions",
                    "params:source_groups",
                    "params:evaluation",
                ],
                outputs="review_threshold",
                name="choose_review_threshold_on_validation",
            ),
            node(
                record_calibration,
                inputs=[
                    "temperature_fit",
                    "review_threshold",
                    "params:image_preprocessing",
                ],
                outputs="calibration",
                name="record_calibration",
            ),
            *per_split,
            node(
                collect_metrics,
                inputs={
                    "calibration": "calibration",
                    **{split: f"{split}_metrics" for split in EVALUATED_SPLITS},
                },
                outputs=[
                    "evaluation_metrics",
                    "evaluation_summary",
                    "evaluation_per_class",
                    "confusion_matrices",
                    "evaluation_mlflow_metrics",
                ],
                name="collect_metrics",
            ),
        ]
    )
