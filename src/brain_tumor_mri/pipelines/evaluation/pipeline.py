"""The evaluation pipeline: predict each split, compute its metrics, log them."""

from kedro.pipeline import Pipeline, node, pipeline

from brain_tumor_mri.pipelines.evaluation.nodes import (
    collect_metrics,
    evaluate_predictions,
    load_external_test_set,
    predict_probabilities,
)

# The external split is empty (and not evaluated) unless
# evaluation.external_test_dir names a folder.
SPLITS = ("val", "test", "test_dedup", "external")


def create_pipeline(**kwargs) -> Pipeline:
    per_split = [
        nodes
        for split in SPLITS
        for nodes in (
            node(
                predict_probabilities,
                inputs=["trained_model", f"{split}_cache", "params:evaluation"],
                outputs=f"{split}_predictions",
                name=f"predict_{split}",
            ),
            node(
                evaluate_predictions,
                inputs=[f"{split}_predictions", "params:classes", "params:evaluation"],
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
                    "params:classes",
                    "params:image_size",
                    "params:image_preprocessing",
                    "params:evaluation",
                ],
                outputs="external_cache",
                name="load_external_test_set",
            ),
            *per_split,
            node(
                collect_metrics,
                inputs={split: f"{split}_metrics" for split in SPLITS},
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
