"""The hardware a training run uses: accelerators, precision, XLA and tf.distribute."""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import keras
import tensorflow as tf

from brain_tumor_mri.compat.keras_multi_worker import let_keras_fit_under_multi_worker
from brain_tumor_mri.framework.multi_worker import tf_config_workers


def gpu_names() -> list[str]:
    """The model name of every GPU TensorFlow sees (empty on CPU)."""
    return [
        tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
        for gpu in tf.config.list_physical_devices("GPU")
    ]


def device_description(gpus: list[str]) -> str:
    """``CPU``, the GPU's name, or ``2 x <name>`` for several GPUs."""
    if not gpus:
        return "CPU"
    return ", ".join(
        name if count == 1 else f"{count} x {name}"
        for name, count in Counter(gpus).items()
    )


@functools.cache
def distribution_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy ``name`` (``default``, ``mirrored``, ``multi_worker``), made once.

    ``mirrored`` replicates over every GPU, or over every logical CPU device where
    there is no GPU. ``multi_worker`` must be made before any other TensorFlow
    operation of the process: ``kedro worker`` (``cli.py``) makes it first.
    """
    if name == "multi_worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        let_keras_fit_under_multi_worker()
        return strategy
    if name == "mirrored":
        devices = tf.config.list_logical_devices(
            "GPU"
        ) or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    return tf.distribute.get_strategy()


def with_batch_norm_synchronized(model: keras.Model, synchronized: bool) -> keras.Model:
    """A copy whose BatchNormalization layers use the statistics of the global batch.

    With several replicas, each normalises its own part of a batch and keeps its own
    moving averages unless ``synchronized``: then every replica (of every worker)
    uses the whole batch's mean and variance, as one device would, and the replicas
    end with the same weights. ``synchronized=False`` gives a model for one device.
    """
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "BatchNormalization":
            layer["config"]["synchronized"] = synchronized
    copy = keras.Model.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def wait_for_every_worker(strategy: tf.distribute.Strategy) -> None:
    """Return once every replica of the strategy has called this (a barrier)."""
    strategy.reduce(
        tf.distribute.ReduceOp.SUM,
        strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(1.0)
        ),
        axis=None,
    )


# tf.distribute's public names of strategy classes whose Python names differ.
STRATEGY_NAMES = {
    "_DefaultDistributionStrategy": "DefaultStrategy",
    "CollectiveAllReduceStrategy": "MultiWorkerMirroredStrategy",
}


def strategy_description(strategy: tf.distribute.Strategy) -> str:
    """The strategy's name and replica count, e.g. ``MirroredStrategy (2 replicas)``."""
    name = STRATEGY_NAMES.get(type(strategy).__name__, type(strategy).__name__)
    replicas = strategy.num_replicas_in_sync
    return f"{name} ({replicas} replica{'s' if replicas > 1 else ''})"


def resolve_training_setup(
    *,
    precision: str,
    jit_compile: str | bool,
    deterministic: str | bool,
    distribution: str,
) -> dict[str, Any]:
    """Turn ``auto`` settings into the device, precision, XLA and strategy to use.

    On a GPU, mixed precision and XLA are on by default; on CPU both are off and ops
    are deterministic. Several GPUs use ``MirroredStrategy``; a ``TF_CONFIG`` with
    several workers uses ``MultiWorkerMirroredStrategy``. The values were checked
    with the other parameters (``params.ModelTrainingParams``).
    """
    gpus = gpu_names()
    if distribution == "auto":
        if tf_config_workers() > 1:
            distribution = "multi_worker"
        elif len(gpus) > 1:
            distribution = "mirrored"
        else:
            distribution = "default"
    strategy = distribution_strategy(distribution)
    return {
        "device": device_description(gpus),
        "gpus": len(gpus),
        "precision": ("mixed_float16" if gpus else "float32")
        if precision == "auto"
        else precision,
        "jit_compile": bool(gpus) if jit_compile == "auto" else jit_compile,
        "deterministic": not gpus if deterministic == "auto" else deterministic,
        "distribution": distribution,
        "strategy": strategy_description(strategy),
        "replicas": strategy.num_replicas_in_sync,
    }


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and TensorFlow; make TensorFlow ops deterministic if asked."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
