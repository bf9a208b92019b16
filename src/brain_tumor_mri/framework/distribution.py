"""TensorFlow distribution strategies, for training and for ``kedro worker``: one
strategy per process, made before any other TensorFlow operation where it spans
several workers."""

from __future__ import annotations

import functools

import tensorflow as tf

from brain_tumor_mri.compat.keras_multi_worker import let_keras_fit_under_multi_worker


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
