"""The reporting pipeline: every figure, logged to the run, and the HTML report."""

from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node, pipeline

from brain_tumor_mri.core.metrics import EVALUATED_SPLITS, images_of
from brain_tumor_mri.pipelines.reporting.nodes import (
    build_report,
    collect_report_parameters,
    dataset_figures,
    gradcam_figures,
    source_group_figures,
    split_figures,
    training_figures,
)

# Parameter groups shown in the report. Named one by one rather than through Kedro's
# "parameters" input, which kedro-mlflow would log a second time under that prefix.
REPORTED_PARAMETERS = (
    "seed",
    "image_size",
    "classes",
    "preprocessing",
    "source_groups",
    "model_construction",
    "model_training",
    "evaluation",
    "reporting",
)


def create_pipeline(**kwargs) -> Pipeline:
    split_nodes = [
        node(
            update_wrapper(partial(split_figures, split=split), split_figures),
            inputs=[
                f"{images_of(split)}_cache",
                f"{split}_calibrated_predictions",
                "evaluation_metrics",
                "params:reporting",
            ],
            outputs=[f"{split}_figures", f"{split}_figure_pngs"],
            name=f"plot_{split}_figures",
        )
        for split in EVALUATED_SPLITS
    ]
    return pipeline(
        [
            node(
                dataset_figures,
                inputs=["data_split", "leakage_summary", "params:classes"],
                outputs=["dataset_figures", "dataset_figure_pngs"],
                name="plot_dataset_figures",
            ),
            node(
                source_group_figures,
                inputs="evaluation_metrics",
                outputs=["source_group_figures", "source_group_figure_pngs"],
                name="plot_source_group_figures",
            ),
            node(
                training_figures,
                inputs="training_history",
                outputs=["training_figures", "training_figure_pngs"],
                name="plot_training_curves",
            ),
            *split_nodes,
            node(
                gradcam_figures,
                inputs=[
                    "trained_model",
                    "test_cache",
                    "test_calibrated_predictions",
                    "params:classes",
                    "params:reporting.gradcam",
                ],
                outputs=["gradcam_figures", "gradcam_figure_pngs"],
                name="plot_gradcam_examples",
            ),
            node(
                collect_report_parameters,
                inputs={name: f"params:{name}" for name in REPORTED_PARAMETERS},
                outputs="report_parameters",
                name="collect_report_parameters",
            ),
            node(
                build_report,
                inputs={
                    "parameters": "report_parameters",
                    "leakage_summary": "leakage_summary",
                    "shortcut_audit": "shortcut_audit",
                    "data_split": "data_split",
                    "training_history": "training_history",
                    "evaluation_metrics": "evaluation_metrics",
                    "calibration": "calibration",
                    "model_summary": "model_summary",
                    "dataset_pngs": "dataset_figure_pngs",
                    "training_pngs": "training_figure_pngs",
                    "source_group_pngs": "source_group_figure_pngs",
                    "gradcam_pngs": "gradcam_figure_pngs",
                    **{
                        f"{split}_pngs": f"{split}_figure_pngs"
                        for split in EVALUATED_SPLITS
                    },
                },
                outputs="report_html",
                name="build_html_report",
            ),
        ]
    )
