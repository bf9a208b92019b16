"""Training on real images: learning, determinism, resuming after a kill, MirroredStrategy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest
import tensorflow as tf
from mlflow import MlflowClient

from brain_tumor_mri.config.parameters import ParameterError, check_parameters
from brain_tumor_mri.datasets import NumpyArraysDataset
from brain_tumor_mri.pipelines.model_training.devices import resolve_training_setup
from brain_tumor_mri.pipelines.model_training.live_metrics import log_new_epochs
from brain_tumor_mri.pipelines.model_training.nodes import (
    learning_rate_schedule,
    make_optimizer,
    training_phases,
)
from brain_tumor_mri.pipelines.model_training.tf_data import (
    augment,
    balanced_class_weights,
    evaluation_dataset,
    steps_per_epoch,
    training_dataset,
)
from tests.conftest import QuickTrainingRun, copy_project

HISTORY_KEYS = {
    "epoch",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "val_worst_group_accuracy",
    "val_group_balanced_accuracy",
    "learning_rate",
}
HISTORY = Path("data/08_reporting/training_history.json")
CHECKPOINTS = Path("data/06_models/checkpoints")


def load_cache(project: Path, split: str) -> dict[str, np.ndarray]:
    return NumpyArraysDataset(path=project / "data" / "05_model_input" / split).load()


def project_with_training_inputs(
    run: QuickTrainingRun, destination: Path, every: int = 1
) -> Path:
    """A project copy with the quick run's untrained model and caches (every n-th image)."""
    project = copy_project(destination)
    for split in ("train", "val"):
        cache = load_cache(run.project_path, split)
        NumpyArraysDataset(path=project / "data" / "05_model_input" / split).save(
            {name: np.asarray(array[::every]) for name, array in cache.items()}
        )
    model = "data/06_models/untrained_model.keras"
    (project / model).write_bytes((run.project_path / model).read_bytes())
    return project


def project_env(project: Path) -> dict[str, str]:
    """The environment of a run in ``project``: its own MLflow store, unwrapped log lines."""
    return {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        "COLUMNS": "400",
    }


def kedro_run(project: Path, log: Path, *args: str) -> subprocess.Popen:
    """``kedro run --env quick ARGS`` in the project, in the background, output to ``log``."""
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "kedro", "run", "--env", "quick", *args],
            cwd=project,
            env=project_env(project),
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def logged_steps(client: MlflowClient, key: str) -> list[int]:
    """The steps of metric ``key`` in every run of the store, oldest run first."""
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        order_by=["attribute.start_time ASC"],
    )
    return [
        point.step
        for run in runs
        for point in client.get_metric_history(run.info.run_id, key)
    ]


def test_training_lowers_the_loss(quick_training_run: QuickTrainingRun):
    history = json.loads((quick_training_run.project_path / HISTORY).read_text())
    assert set(history) == HISTORY_KEYS
    assert history["epoch"] == [1, 2]
    assert all(len(values) == 2 for values in history.values())
    assert history["loss"][1] < history["loss"][0]


def test_killed_run_resumes_and_matches_an_uninterrupted_run_with_the_same_seed(
    quick_training_run: QuickTrainingRun, tmp_path: Path
):
    """Kill a run after its first checkpoint and start it again, in new processes.

    The resumed run trains the second epoch only, and its history equals, bit for
    bit, the one of the uninterrupted quick run: same seed on CPU, same history.
    """
    project = project_with_training_inputs(quick_training_run, tmp_path / "project")
    first = kedro_run(project, tmp_path / "first.log", "--pipelines", "model_training")
    client = MlflowClient(project_env(project)["MLFLOW_TRACKING_URI"])
    state = None
    deadline = time.monotonic() + 400
    while state is None and first.poll() is None and time.monotonic() < deadline:
        states = list((project / CHECKPOINTS).glob("*/state.json"))
        # Killed once epoch 1 is both checkpointed and logged to the run, live.
        if (
            states
            and json.loads(states[0].read_text())["epoch"] >= 1
            and logged_steps(client, "loss")
        ):
            first.send_signal(signal.SIGKILL)
            state = states[0]
        time.sleep(0.05)
    if first.poll() is None:
        first.kill()
    first.wait()
    output = (tmp_path / "first.log").read_text()
    assert state is not None, f"no checkpoint before the run ended:\n{output[-3000:]}"
    assert first.returncode == -signal.SIGKILL
    assert not (project / HISTORY).exists()
    checkpoint = json.loads(state.read_text())

    second = kedro_run(
        project, tmp_path / "second.log", "--pipelines", "model_training"
    )
    second.wait(timeout=600)
    output = (tmp_path / "second.log").read_text()
    assert second.returncode == 0, output[-3000:]
    assert f"Resuming from the checkpoint after epoch {checkpoint['epoch']}" in output
    assert "Epoch 1/2" not in output
    history = json.loads((project / HISTORY).read_text())
    assert history["epoch"] == [1, 2]
    finished = checkpoint["epoch"]
    assert {k: v[:finished] for k, v in history.items()} == checkpoint["history"]
    assert not list((project / CHECKPOINTS).glob("*/*"))
    uninterrupted = quick_training_run.project_path / HISTORY
    assert history == json.loads(uninterrupted.read_text())

    # The killed run logged its finished epochs live; the resumed run holds every
    # epoch once: those of the checkpoint, logged on resuming, then the new ones.
    killed, resumed = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        order_by=["attribute.start_time ASC"],
    )
    assert killed.info.status == "RUNNING"
    for run, epochs in ((killed, history["epoch"][:finished]), (resumed, [1, 2])):
        for key in HISTORY_KEYS - {"epoch"}:
            points = client.get_metric_history(run.info.run_id, key)
            assert [point.step for point in points] == epochs, key
            assert [point.value for point in points] == pytest.approx(
                history[key][: len(epochs)]
            )


def test_epochs_reach_the_active_run_once_each(tmp_path: Path):
    """A resumed training logging into the run of the interrupted one adds no point."""
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    history = {"epoch": [1], "loss": [0.9], "learning_rate": [1e-3]}
    experiment = mlflow.create_experiment("live_metrics")
    with mlflow.start_run(experiment_id=experiment) as run:
        log_new_epochs(history)
        history = {"epoch": [1, 2], "loss": [0.9, 0.7], "learning_rate": [1e-3] * 2}
        log_new_epochs(history)
        log_new_epochs(history)
    client = MlflowClient()
    for key in ("loss", "learning_rate"):
        points = client.get_metric_history(run.info.run_id, key)
        assert [(p.step, p.value) for p in points] == list(
            zip(history["epoch"], history[key], strict=True)
        )
    log_new_epochs(history)  # no active run: nothing logged, no run started
    assert mlflow.active_run() is None
    assert len(client.search_runs([experiment])) == 1


MIRRORED_RUN = """
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)
from pathlib import Path

from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

bootstrap_project(Path.cwd())
params = {"model_training": {"distribution": "mirrored", "epochs": 1}}
with KedroSession.create(env="quick", runtime_params=params) as session:
    session.run(pipeline_names=["model_training"])
"""


def small_classifier(size: int) -> keras.Model:
    """A few layers in the model contract's shape, standing in for ResNet-50 to save time."""
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


def test_mirrored_strategy_over_two_logical_cpus(
    quick_training_run: QuickTrainingRun, tmp_path: Path
):
    """The model_training pipeline under MirroredStrategy, on real images, small model."""
    project = project_with_training_inputs(quick_training_run, tmp_path / "project", 3)
    small_classifier(64).save(project / "data/06_models/untrained_model.keras")
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_RUN],
        check=False,
        cwd=project,
        env=project_env(project),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "MirroredStrategy (2 replicas)" in result.stdout + result.stderr
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.data.tags["distribution_strategy"] == "MirroredStrategy (2 replicas)"
    assert json.loads((project / HISTORY).read_text())["epoch"] == [1]


def test_tf_data_epochs_are_shuffled_augmented_and_reproducible(
    quick_training_run: QuickTrainingRun,
):
    cache = load_cache(quick_training_run.project_path, "val")
    augmentation = {
        "flip": "horizontal_and_vertical",
        "rotation": 0.05,
        "zoom": 0.1,
        "translation": 0.1,
        "contrast": 0.1,
        "gamma": 0.5,
        "invert": 0.2,
        "noise": 0.02,
    }

    def batches(epochs: range) -> list:
        data = training_dataset(
            cache, 4, 10, seed=1, augmentation=augmentation, epochs=epochs
        )
        return [(images.numpy(), labels.numpy()) for images, labels in data]

    three_epochs = batches(range(3))
    steps = steps_per_epoch(cache, 10)
    assert [len(images) for images, _ in three_epochs] == [10, 10, 4] * 3
    images, labels = three_epochs[0]
    assert images.dtype == np.float32 and 0 <= images.min() <= images.max() <= 255
    assert labels.shape == (10, 4)
    # A run resumed at epoch 2 sees the very batches of an uninterrupted run.
    for (a, _), (b, _) in zip(three_epochs[steps:], batches(range(1, 3)), strict=True):
        np.testing.assert_array_equal(a, b)
    # Each epoch has its own order and augmentation.
    assert not np.array_equal(three_epochs[0][0], three_epochs[steps][0])
    in_order = list(evaluation_dataset(cache, 4, 10))
    assert in_order[0][0].dtype == "uint8"
    np.testing.assert_array_equal(
        np.concatenate([labels.numpy().argmax(1) for _, labels in in_order]),
        cache["labels"],
    )
    epoch_labels = np.concatenate([labels for _, labels in three_epochs[:steps]])
    assert sorted(epoch_labels.argmax(1)) == sorted(cache["labels"])
    assert not np.array_equal(epoch_labels.argmax(1), cache["labels"])


def test_intensity_augmentation_on_real_images(quick_training_run: QuickTrainingRun):
    images = np.asarray(
        load_cache(quick_training_run.project_path, "val")["images"][:8], np.float32
    )
    seed = tf.constant([3, 0], dtype=tf.int64)
    background = images.max(axis=-1, keepdims=True) <= 8

    inverted = augment(images, seed, {"invert": 1.0}).numpy()
    np.testing.assert_allclose(
        inverted, np.where(background, images, 255 - images), atol=1e-4
    )
    gamma = augment(images, seed, {"gamma": 0.5}).numpy()
    assert not np.allclose(gamma, images)
    # A gamma change keeps black black and white white, and the order of intensities.
    np.testing.assert_array_equal(gamma[images == 0], 0)
    row = images[0, 32, :, 0]
    assert (np.diff(gamma[0, 32, :, 0][np.argsort(row)]) >= -1e-3).all()
    noisy = augment(images, seed, {"noise": 0.05}).numpy()
    assert 5 < np.std(noisy - images) < 15
    np.testing.assert_array_equal(augment(images, seed, {"noise": 0.05}), noisy)


def test_cosine_schedule_warms_up_then_decays():
    schedule = learning_rate_schedule(
        1e-3,
        {"name": "cosine", "warmup_epochs": 1, "final_fraction": 0.1},
        epochs=5,
        steps=10,
    )
    rates = [float(schedule(step)) for step in (0, 5, 10, 30, 50)]
    assert rates[0] == pytest.approx(1e-5)
    assert rates[1] == pytest.approx(0.5 * (1e-5 + 1e-3), rel=1e-3)
    assert rates[2] == pytest.approx(1e-3)
    assert rates[2] > rates[3] > rates[4] == pytest.approx(1e-4)
    assert learning_rate_schedule(1e-3, {"name": "constant"}, 5, 10) == 1e-3
    assert isinstance(
        make_optimizer(schedule, {"name": "adamw"}), keras.optimizers.AdamW
    )


def test_balanced_class_weights():
    weights = balanced_class_weights(np.array([0, 0, 0, 1, 2, 2]), 4)
    assert weights == {0: 2 / 3, 1: 2.0, 2: 1.0, 3: 1.0}


def test_phases():
    params = {
        "epochs": 10,
        "learning_rate": 1e-3,
        "warmup_epochs": 3,
        "fine_tune": {"stages": 2, "learning_rate": 1e-5},
    }
    scratch = training_phases(params, pretrained=False)
    assert [(p.name, p.end_epoch, p.stages) for p in scratch] == [
        ("from_scratch", 10, "all")
    ]
    pretrained = training_phases(params, pretrained=True)
    assert [(p.name, p.end_epoch, p.stages, p.learning_rate) for p in pretrained] == [
        ("warm_up", 3, 0, 1e-3),
        ("fine_tune", 10, 2, 1e-5),
    ]


def test_cpu_setup_and_bad_settings():
    params = {
        "precision": "auto",
        "jit_compile": "auto",
        "deterministic": "auto",
        "distribution": "auto",
    }
    setup = resolve_training_setup(params)
    assert setup["device"] == "CPU"
    assert (setup["precision"], setup["jit_compile"], setup["deterministic"]) == (
        "float32",
        False,
        True,
    )
    assert setup["strategy"] == "DefaultStrategy (1 replica)"
    # Unknown values are refused with the other parameters, before the run.
    with pytest.raises(ParameterError, match=r"model_training\.precision: .*'half'"):
        check_parameters({"model_training": {"precision": "half"}})
