"""The model registration pipeline: log the servable model and register it in MLflow."""

from kedro.pipeline import Pipeline, node, pipeline

from brain_tumor_mri.pipelines.model_registration.nodes import package_servable_model


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                package_servable_model,
                inputs=[
                    "trained_model",
                    "val_cache",
                    "params:classes",
                    "params:preprocessing.max_image_pixels",
                    "params:serving",
                ],
                outputs="servable_model",
                name="register_servable_model",
            ),
        ]
    )
