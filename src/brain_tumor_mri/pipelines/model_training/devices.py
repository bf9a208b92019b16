"""The hardware a training run uses: accelerators, precision, XLA and tf.distribute."""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from collections.abc import Mapping
from typing import Any

import keras
import tensorflow as tf


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


def tf_config_workers() -> int:
    """The number of workers that the ``TF_CONFIG`` environment variable declares."""
    cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


@functools.cache
def distribution_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy ``name`` (``default``, ``mirrored``, ``multi_worker``), made once.

    ``mirrored`` replicates over every GPU, or over every logical CPU device where
    there is no GPU. ``multi_worker`` must be made before any other TensorFlow
    operation of the process: see docs/training.md.
    """
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices(
            "GPU"
        ) or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    return tf.distribute.get_strategy()


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


def resolve_training_setup(params: Mapping[str, Any]) -> dict[str, Any]:
    """Turn ``auto`` settings into the device, precision, XLA and strategy to use.

    On a GPU, mixed precision and XLA are on by default; on CPU both are off and ops
    are deterministic. Several GPUs use ``MirroredStrategy``; a ``TF_CONFIG`` with
    several workers uses ``MultiWorkerMirroredStrategy``. The values were checked
    with the other parameters (``model_parameters.ModelTrainingParams``).
    """
    gpus = gpu_names()
    precision = params["precision"]
    jit_compile = params["jit_compile"]
    deterministic = params["deterministic"]
    distribution = params["distribution"]
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
