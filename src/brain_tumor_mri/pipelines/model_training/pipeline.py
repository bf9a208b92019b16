"""The model training pipeline: fit on the cached splits and track the run in MLflow."""

from kedro.pipeline import Pipeline, node, pipeline

from brain_tumor_mri.pipelines.model_training.nodes import (
    attach_input_example,
    describe_training_run,
    select_training_setup,
    train_model,
)


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                select_training_setup,
                inputs=["params:model_training", "backbone"],
                outputs="training_setup",
                name="select_training_setup",
            ),
            node(
                train_model,
                inputs=[
                    "untrained_model",
                    "train_cache",
                    "val_cache",
                    "training_setup",
                    "params:seed",
                    "params:model_training",
                    "params:source_groups",
                    "params:classes",
                    "params:negative_class",
                    "params:screening",
                ],
                outputs=["trained_model", "training_history"],
                name="train_model",
            ),
            node(
                describe_training_run,
                inputs="training_setup",
                outputs="training_tags",
                name="describe_training_run",
            ),
            node(
                attach_input_example,
                inputs=["trained_model", "val_cache"],
                outputs="mlflow_model",
                name="attach_input_example",
            ),
        ]
    )
