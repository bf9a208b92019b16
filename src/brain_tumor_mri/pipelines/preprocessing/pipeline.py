"""The preprocessing pipeline: index, validate, audit leakage, split and cache."""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline, node, pipeline

from brain_tumor_mri.core.splits import CACHED_SPLITS
from brain_tumor_mri.pipelines.preprocessing.nodes import (
    audit_leakage,
    audit_shortcuts,
    cache_split,
    describe_data_set,
    index_raw_files,
    select_test_dedup,
    split_data,
    validate_images,
)


def _raw_file_nodes() -> list[Node]:
    """Every raw file indexed, then decoded once to tell usable images from bad files."""
    return [
        node(
            index_raw_files,
            inputs=[
                "raw_images",
                "params:classes",
                "params:source_groups",
                "params:preprocessing",
                "params:image_input",
            ],
            outputs="image_manifest",
            name="index_raw_files",
        ),
        node(
            validate_images,
            inputs=[
                "raw_images",
                "image_manifest",
                "params:preprocessing",
                "params:image_input",
            ],
            outputs=["validated_images", "bad_files_report"],
            name="validate_images",
        ),
    ]


def _split_nodes() -> list[Node]:
    """The leakage audit, the split that keeps duplicates together, and its audits."""
    return [
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
            audit_shortcuts,
            inputs=[
                "data_split",
                "params:classes",
                "params:seed",
                "params:negative_class",
                "params:preprocessing",
            ],
            outputs=["shortcut_audit", "shortcut_audit_metrics"],
            name="audit_shortcuts",
        ),
        node(
            describe_data_set,
            inputs="data_split",
            outputs="data_set_input",
            name="describe_data_set",
        ),
    ]


def _cache_nodes() -> list[Node]:
    """Each split cached as uint8 arrays, and the test images with no duplicate."""
    return [
        *(
            node(
                update_wrapper(partial(cache_split, split=split), cache_split),
                inputs=[
                    "raw_images",
                    "data_split",
                    "params:image_size",
                    "params:image_preprocessing",
                    "params:preprocessing",
                    "params:image_input",
                ],
                outputs=f"{split}_cache",
                name=f"cache_{split}_images",
            )
            for split in CACHED_SPLITS
        ),
        node(
            select_test_dedup,
            inputs=["test_cache", "data_split"],
            outputs="test_dedup_cache",
            name="select_test_dedup",
        ),
    ]


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline([*_raw_file_nodes(), *_split_nodes(), *_cache_nodes()])
