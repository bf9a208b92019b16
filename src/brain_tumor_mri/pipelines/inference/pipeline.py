"""The inference pipeline: predict every image of a folder with a logged MLflow model."""

from kedro.pipeline import Pipeline, node, pipeline

from brain_tumor_mri.pipelines.inference.nodes import decode_images, predict_images


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                decode_images,
                inputs=[
                    "inference_images",
                    "inference_model",
                    "inference_calibration",
                    "params:image_input",
                ],
                outputs="decoded_inference_images",
                name="decode_new_images",
            ),
            node(
                predict_images,
                inputs={
                    "decoded_images": "decoded_inference_images",
                    "inference_images": "inference_images",
                    "inference_model": "inference_model",
                    "inference_calibration": "inference_calibration",
                    "classes": "params:classes",
                    "params": "params:inference",
                    "gradcam": "params:gradcam",
                    "image_input": "params:image_input",
                },
                outputs=["inference_predictions", "inference_gradcam_overlays"],
                name="predict_new_images",
            ),
        ]
    )
