"""The reporting pipeline: every figure, logged to the run, and the HTML report."""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline, node, pipeline

from brain_tumor_mri.config.parameters import TRAINING_STAGES, run_groups
from brain_tumor_mri.core.splits import REPORTED_SPLITS
from brain_tumor_mri.pipelines.reporting.nodes import (
    collect_report_parameters,
    dataset_figures,
    gradcam_figures,
    run_report_html,
    source_group_figures,
    split_figures,
    training_figures,
)

# Parameter groups shown in the report: every group of the training run (shown only:
# no node reads a value of another pipeline's group). Named one by one rather than
# through Kedro's "parameters" input, which kedro-mlflow would log a second time under
# that prefix.
REPORTED_PARAMETERS = run_groups(TRAINING_STAGES)


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            *_figure_nodes(),
            *[
                _split_figure_node(split, images)
                for split, images in REPORTED_SPLITS.items()
            ],
            *_report_nodes(),
        ]
    )


def _split_figure_node(split: str, images: str) -> Node:
    return node(
        update_wrapper(partial(split_figures, split=split), split_figures),
        inputs=[
            f"{images}_cache",
            f"{split}_calibrated_predictions",
            "evaluation_metrics",
            "params:reporting",
        ],
        outputs=f"{split}_figures",
        name=f"plot_{split}_figures",
    )


def _figure_nodes() -> list[Node]:
    """The figures of the data set, the source groups, training and Grad-CAM."""
    return [
        node(
            dataset_figures,
            inputs=["data_split", "leakage_summary", "params:classes"],
            outputs="dataset_figures",
            name="plot_dataset_figures",
        ),
        node(
            source_group_figures,
            inputs="evaluation_metrics",
            outputs="source_group_figures",
            name="plot_source_group_figures",
        ),
        node(
            training_figures,
            inputs="training_history",
            outputs="training_figures",
            name="plot_training_curves",
        ),
        node(
            gradcam_figures,
            inputs=[
                "trained_model",
                "test_cache",
                "test_calibrated_predictions",
                "params:classes",
                "params:gradcam",
                "params:reporting",
            ],
            outputs="gradcam_figures",
            name="plot_gradcam_examples",
        ),
    ]


def _report_nodes() -> list[Node]:
    """The parameters shown in the report, and the HTML report."""
    return [
        node(
            collect_report_parameters,
            inputs={name: f"params:{name}" for name in REPORTED_PARAMETERS},
            outputs="report_parameters",
            name="collect_report_parameters",
        ),
        node(
            run_report_html,
            inputs={
                "parameters": "report_parameters",
                "leakage_summary": "leakage_summary",
                "shortcut_audit": "shortcut_audit",
                "data_split": "data_split",
                "training_history": "training_history",
                "evaluation_metrics": "evaluation_metrics",
                "calibration": "calibration",
                "model_summary": "model_summary",
                "dataset_pngs": "dataset_figures",
                "training_pngs": "training_figures",
                "source_group_pngs": "source_group_figures",
                "gradcam_pngs": "gradcam_figures",
                **{f"{split}_pngs": f"{split}_figures" for split in REPORTED_SPLITS},
            },
            outputs="report_html",
            name="build_run_report",
        ),
    ]
