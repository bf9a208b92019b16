"""The evaluation pipeline: predict each split, calibrate on validation, compute the
metrics of every split, log them."""

from kedro.pipeline import Node, Pipeline, node, pipeline

from brain_tumor_mri.core.splits import (
    ADAPTED_SUFFIX,
    DFR_SUFFIX,
    EVALUATED_SPLITS,
    TENT_SUFFIX,
    images_of,
)
from brain_tumor_mri.pipelines.evaluation.nodes import (
    calibrate_probabilities,
    choose_review_threshold,
    collect_metrics,
    evaluate_predictions,
    fit_validation_temperature,
    load_external_test_set,
    predict_adapted_probabilities,
    predict_probabilities,
    predict_refit_probabilities,
    predict_tent_probabilities,
    record_calibration,
    refit_last_layer,
)


def create_pipeline(**kwargs) -> Pipeline:
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
            *_calibration_nodes(),
            node(
                refit_last_layer,
                inputs=[
                    "trained_model",
                    "val_cache",
                    "val_predictions",
                    "params:classes",
                    "params:source_groups",
                    "params:negative_class",
                    "params:screening",
                    "params:evaluation",
                    "params:seed",
                ],
                outputs="last_layer_refit",
                name="refit_last_layer_on_validation",
            ),
            *(each for split in EVALUATED_SPLITS for each in _split_nodes(split)),
            node(
                collect_metrics,
                inputs={
                    "calibration": "calibration",
                    "last_layer_refit": "last_layer_refit",
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


def _calibration_nodes() -> list[Node]:
    """The temperature and the review threshold, both fitted on the validation split
    only (test splits are measured only), and what travels with the model."""
    return [
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
    ]


def _split_nodes(split: str) -> list[Node]:
    """Predict one split (with the adapted model for ``<split>_adapted`` and
    ``<split>_tent``, the refitted output layer for ``<split>_dfr``), calibrate its
    probabilities and compute its metrics."""
    inputs = ["trained_model", f"{images_of(split)}_cache", "params:evaluation"]
    if split.endswith(DFR_SUFFIX):
        predict = predict_refit_probabilities
        inputs = [*inputs[:2], "last_layer_refit", inputs[2]]
    elif split.endswith(TENT_SUFFIX):
        predict, inputs = predict_tent_probabilities, [*inputs, "params:seed"]
    elif split.endswith(ADAPTED_SUFFIX):
        predict = predict_adapted_probabilities
    else:
        predict = predict_probabilities
    return [
        node(
            predict,
            inputs=inputs,
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
                "params:negative_class",
                "params:screening",
                "params:evaluation",
                "params:seed",
            ],
            outputs=f"{split}_metrics",
            name=f"evaluate_{split}",
        ),
    ]
