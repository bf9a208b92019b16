"""The site adaptation pipeline: adapt a registered model to a site's unlabelled
images and register the result as a new version, in its own MLflow run."""

from kedro.pipeline import Pipeline, node, pipeline

from brain_tumor_mri.pipelines.site_adaptation.nodes import (
    adapt_to_site,
    adaptation_tags,
    adapted_calibration,
    measure_adaptation,
    package_adapted_model,
    read_site_images,
)


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                read_site_images,
                inputs=[
                    "site_images",
                    "site_source_model",
                    "params:image_input",
                ],
                outputs="site_decoded_images",
                name="read_site_images",
            ),
            node(
                adapt_to_site,
                inputs=[
                    "site_decoded_images",
                    "site_source_model",
                    "params:site_adaptation",
                    "params:seed",
                ],
                outputs=["site_adapted_keras_model", "site_batch_norm_shift"],
                name="adapt_to_site",
            ),
            node(
                adapted_calibration,
                inputs=[
                    "site_source_model",
                    "site_decoded_images",
                    "params:site_adaptation",
                    "params:seed",
                ],
                outputs="site_adapted_calibration",
                name="record_adapted_calibration",
            ),
            node(
                adaptation_tags,
                inputs="site_adapted_calibration",
                outputs="site_adaptation_tags",
                name="tag_site_adaptation",
            ),
            node(
                measure_adaptation,
                inputs=[
                    "site_decoded_images",
                    "site_source_model",
                    "site_adapted_keras_model",
                    "site_batch_norm_shift",
                    "site_adapted_calibration",
                    "params:classes",
                    "params:site_adaptation",
                ],
                outputs=["site_adaptation_mlflow_metrics", "site_adaptation_report"],
                name="measure_site_adaptation",
            ),
            node(
                package_adapted_model,
                inputs=[
                    "site_adapted_keras_model",
                    "site_source_model",
                    "site_adapted_calibration",
                    "site_adaptation_tags",
                    "params:classes",
                    "params:image_input",
                ],
                outputs="site_adapted_servable_model",
                name="register_adapted_model",
            ),
        ]
    )
