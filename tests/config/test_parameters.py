"""Parameter schemas: the shipped configuration passes, wrong values are named."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow import MlflowClient

from brain_tumor_mri.config.parameters import ParameterError, check_parameters
from brain_tumor_mri.settings import CONFIG_LOADER_ARGS
from tests.conftest import PROJECT_ROOT


def project_parameters(env: str = "local") -> dict:
    loader = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"),
        **{**CONFIG_LOADER_ARGS, "default_run_env": env},
    )
    return loader["parameters"]


@pytest.mark.parametrize(
    "env", sorted(p.name for p in (PROJECT_ROOT / "conf").iterdir() if p.is_dir())
)
def test_shipped_configuration_fits_the_schemas(env: str):
    check_parameters(project_parameters(env))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"seed": "forty-two"}, "seed: Input should be a valid integer"),
        ({"image_size": [150]}, "image_size: List should have at least 2 items"),
        (
            {"preprocessing": {"validation_fraction": 0}},
            "preprocessing.validation_fraction",
        ),
        (
            {"preprocessing": {"workers": 0}},
            "preprocessing.workers: Input should be greater",
        ),
        (
            {"preprocessing": {"split_folders": {"valid": "Val"}}},
            "preprocessing.split_folders",
        ),
        (
            {"preprocessing": {"max_image_per_class": 3}},
            "Extra inputs are not permitted",
        ),
        ({"classes": [{"name": "a"}, {"name": "a"}]}, "names must be unique"),
        (
            {"image_input": {"image_formats": ["JPEG", "EPS"]}},
            "image_input.image_formats: Value error, EPS can never be allowed",
        ),
        (
            {"image_input": {"image_formats": ["JPEG", "HEIC"]}},
            "unknown image format HEIC",
        ),
        ({"external_test_dir": "/no/such/folder"}, "no folder at '/no/such"),
        ({"gradcam": {"alpha": 2}}, "gradcam.alpha"),
        (
            {"evaluation": {"review": {"target_accuracy": 1.5}}},
            "evaluation.review.target_accuracy",
        ),
        (
            {"negative_class": "healthy"},
            "negative_class: 'healthy' is not a class",
        ),
        (
            {"classes": [{"name": "a", "alias": ["b"]}, {"name": "c"}]},
            "classes.0.alias",
        ),
        (
            {"image_preprocessing": {"intensity": "zscore"}},
            "image_preprocessing.intensity",
        ),
        (
            {"image_preprocessing": {"crop_to_brain": {"enabled": True}}},
            "image_preprocessing.crop_to_brain.threshold: Field required",
        ),
        (
            {"model_training": {"lr_schedule": {"name": "cosine"}}},
            "reduce_lr must be null with lr_schedule.name 'cosine'",
        ),
        (
            {"model_training": {"optimizer": {"name": "sgd"}}},
            "model_training.optimizer.name",
        ),
    ],
)
def test_wrong_parameters_are_named(change: dict, message: str):
    params = project_parameters()
    for key, value in change.items():
        params[key] = {**params[key], **value} if isinstance(value, dict) else value
    with pytest.raises(ParameterError) as error:
        check_parameters(params)
    assert message in error.value.message
    assert "conf/base/parameters" in error.value.message


def test_session_refuses_wrong_parameters_before_running(project_copy: Path):
    bootstrap_project(project_copy)
    with (
        KedroSession.create(
            project_path=project_copy,
            runtime_params={"preprocessing": {"validation_fraction": 2.0}},
        ) as session,
        pytest.raises(
            ParameterError, match="validation_fraction: Input should be less than 1"
        ),
    ):
        session.run(pipeline_names=["preprocessing"])
    assert not any((project_copy / "data" / "02_intermediate").glob("*.parquet"))


def test_inference_without_a_folder_of_images_stops_at_once(project_copy: Path):
    bootstrap_project(project_copy)
    with (
        KedroSession.create(project_path=project_copy) as session,
        pytest.raises(ParameterError, match="No folder of images to predict at"),
    ):
        session.run(pipeline_names=["inference"])


@pytest.mark.parametrize("env", ["local", "quick"])
def test_one_key_of_a_group_can_be_overridden_on_every_environment(
    project_copy: Path, tmp_path: Path, env: str
):
    """`--params evaluation.batch_size=8` changes that key alone, on base and on quick."""
    external = tmp_path / "external"
    external.mkdir()
    bootstrap_project(project_copy)
    runtime = {
        "evaluation": {"batch_size": 8},
        "model_training": {"epochs": 1},
        "external_test_dir": str(external),
    }
    with KedroSession.create(
        project_path=project_copy, env=env, runtime_params=runtime
    ) as session:
        params = session.load_context().params  # the parameter check runs here
    base = project_parameters("local")
    configured = project_parameters(env)
    assert params["evaluation"] == {**configured["evaluation"], "batch_size": 8}
    assert params["external_test_dir"] == str(external)
    # Runtime overrides win over base and over the environment (quick: epochs 2).
    assert params["model_training"]["epochs"] == 1
    assert params["model_training"]["precision"] == base["model_training"]["precision"]
    if env == "quick":
        assert params["image_size"] == [64, 64]
        assert params["model_training"]["batch_size"] == 16
        assert params["model_construction"]["weights"] is None
        # A sibling key of the environment's own survives the runtime override.
        assert params["evaluation"]["tent"]["steps"] == 3
        assert (
            params["model_construction"]["head"] == base["model_construction"]["head"]
        )
        assert params["preprocessing"] == {
            **base["preprocessing"],
            "max_images_per_class": 30,
        }


def test_missing_weights_file_stops_the_run_before_any_node_and_mlflow_run(
    project_copy: Path,
):
    missing = project_copy / "weights" / "resnet50_notop.h5"
    bootstrap_project(project_copy)
    with (
        KedroSession.create(
            project_path=project_copy,
            env="quick",
            runtime_params={"model_construction": {"weights": str(missing)}},
        ) as session,
        pytest.raises(ParameterError) as error,
    ):
        session.run(pipeline_names=["model_construction"])
    (line,) = [line for line in error.value.message.splitlines() if "weights" in line]
    assert (
        f"model_construction.weights: Value error, no weights file at '{missing}'"
        in line
    )
    assert not (project_copy / "data/06_models/untrained_model.keras").exists()
    database = project_copy / "mlflow.db"
    if database.exists():
        client = MlflowClient(f"sqlite:///{database}")
        experiments = [e.experiment_id for e in client.search_experiments()]
        assert client.search_runs(experiments) == []


@pytest.mark.parametrize(
    "group, change, where",
    [
        ("model_training", {"precision": "half"}, "model_training.precision"),
        ("model_training", {"jit_compile": "sometimes"}, "model_training.jit_compile"),
        (
            "model_training",
            {"deterministic": "sometimes"},
            "model_training.deterministic",
        ),
        ("model_training", {"distribution": "tpu"}, "model_training.distribution"),
        ("model_training", {"class_weight": "inverse"}, "model_training.class_weight"),
        (
            "model_training",
            {"augmentation": {"flip": "diagonal"}},
            "model_training.augmentation.flip",
        ),
        (
            "model_construction",
            {"head": {"pooling": "min", "dropout": 0.3}},
            "model_construction.head.pooling",
        ),
        (
            "model_construction",
            {"head": {"pooling": "avg", "dropout": 1.0}},
            "model_construction.head.dropout",
        ),
    ],
)
def test_each_rule_is_checked_by_the_schema_before_the_run(
    group: str, change: dict, where: str
):
    """The one check of each rule: nodes and helpers trust validated parameters."""
    params = project_parameters()
    params[group] = {**params[group], **change}
    with pytest.raises(ParameterError) as error:
        check_parameters(params)
    lines = error.value.message.splitlines()[1:-1]  # one per branch of a union
    assert lines
    assert all(line.startswith(f"  - {where}") for line in lines), lines
