"""Runs that can be told apart in MLflow: a descriptive name and the data set input."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow import MlflowClient
from mlflow.entities import Run

from brain_tumor_mri.framework.hooks import describe_run

QUICK = {
    "image_size": [64, 64],
    "model_construction": {"weights": None},
    "model_training": {"epochs": 2},
}


@pytest.mark.parametrize(
    ("weights", "inputs", "expected"),
    [
        (
            None,
            {"params:model_construction", "params:image_size", "params:model_training"},
            "training · quick · random weights · 64x64 · 2 epochs",
        ),
        (
            "imagenet",
            {"params:model_construction", "params:model_training"},
            "training · quick · imagenet weights · 2 epochs",
        ),
        (
            "data/06_models/resnet50_notop.h5",
            {"params:model_construction"},
            "training · quick · resnet50_notop.h5 weights",
        ),
        (None, {"params:image_size"}, "training · quick · 64x64"),
    ],
)
def test_run_name_says_what_the_pipeline_reads(weights, inputs, expected):
    params = {**QUICK, "model_construction": {"weights": weights}}
    assert describe_run("training", "quick", params, inputs) == expected


def preprocess(project: Path, shared_data_dir: Path, **runtime_params) -> Run:
    """The preprocessing pipeline on a few real images; its MLflow run."""
    bootstrap_project(project)
    with KedroSession.create(
        project_path=project,
        env="quick",
        runtime_params={"raw_data_dir": str(shared_data_dir), **runtime_params},
    ) as session:
        session.run(pipeline_names=["preprocessing"])
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, order_by=["attributes.start_time DESC"])[0]


@pytest.mark.slow
def test_runs_on_other_data_differ_and_a_run_name_can_be_given(
    project_copy: Path, shared_data_dir: Path
):
    first = preprocess(
        project_copy, shared_data_dir, preprocessing={"max_images_per_class": 5}
    )
    second = preprocess(
        project_copy,
        shared_data_dir,
        preprocessing={"max_images_per_class": 6},
        run_name="six per class",
    )
    assert first.info.run_name == "preprocessing · quick · 64x64"
    assert second.info.run_name == "six per class"
    assert (
        first.data.tags["pipeline"] == second.data.tags["pipeline"] == "preprocessing"
    )
    (before,) = first.inputs.dataset_inputs
    (after,) = second.inputs.dataset_inputs
    assert before.dataset.name == after.dataset.name == "brain_tumor_mri"
    assert before.dataset.digest != after.dataset.digest
    tags = {tag.key: tag.value for tag in after.tags}
    assert tags["split.test"] == str(6 * 4)
