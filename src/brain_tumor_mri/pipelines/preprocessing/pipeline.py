"""The preprocessing pipeline: index, validate, audit leakage, split and cache."""

from kedro.pipeline import Pipeline, node, pipeline

from brain_tumor_mri.pipelines.preprocessing.nodes import (
    audit_leakage,
    cache_images,
    index_raw_files,
    split_data,
    validate_images,
)


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                index_raw_files,
                inputs=["raw_images", "params:classes", "params:preprocessing"],
                outputs="image_manifest",
                name="index_raw_files",
            ),
            node(
                validate_images,
                inputs=["raw_images", "image_manifest", "params:preprocessing"],
                outputs=["validated_images", "bad_files_report"],
                name="validate_images",
            ),
            node(
                audit_leakage,
                inputs=["validated_images", "params:preprocessing"],
                outputs=["near_duplicate_pairs", "leakage_summary"],
                name="audit_leakage",
            ),
            node(
                split_data,
                inputs=[
                    "validated_images",
                    "near_duplicate_pairs",
                    "params:classes",
                    "params:seed",
                    "params:preprocessing",
                ],
                outputs="data_split",
                name="split_data",
            ),
            node(
                cache_images,
                inputs=[
                    "raw_images",
                    "data_split",
                    "params:image_size",
                    "params:preprocessing",
                ],
                outputs=["train_cache", "val_cache", "test_cache", "test_dedup_cache"],
                name="cache_images",
            ),
        ]
    )
