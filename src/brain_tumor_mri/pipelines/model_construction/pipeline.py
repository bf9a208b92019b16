"""The model construction pipeline: the untrained ResNet-50 classifier and its summary."""

from kedro.pipeline import Pipeline, node, pipeline

from brain_tumor_mri.pipelines.model_construction.nodes import (
    build_model,
    describe_backbone,
    summarise_model,
)


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                build_model,
                inputs=[
                    "params:image_size",
                    "params:classes",
                    "params:seed",
                    "params:model_construction",
                ],
                outputs="untrained_model",
                name="build_model",
            ),
            node(
                describe_backbone,
                inputs="params:model_construction",
                outputs="backbone",
                name="describe_backbone",
            ),
            node(
                summarise_model,
                inputs="untrained_model",
                outputs="model_summary",
                name="summarise_model",
            ),
        ]
    )
