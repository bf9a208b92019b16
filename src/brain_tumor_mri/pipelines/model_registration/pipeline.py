"""The model registration pipeline: log the servable model and register it in MLflow.

It needs ``calibration`` (the evaluation pipeline's temperature and review threshold,
fitted on validation), so in ``training`` it runs after that part of evaluation."""

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
                    "calibration",
                    "params:serving",
                    "params:image_input",
                ],
                outputs="servable_model",
                name="register_servable_model",
            ),
        ]
    )
