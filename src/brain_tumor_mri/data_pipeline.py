"""``tf.data`` input pipelines that stream the cached (memory-mapped) splits.

Batches are gathered from the uint8 arrays by index, so a split is never copied
whole into memory; augmentation runs in the pipeline on the CPU, not in the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE
FLIPS = ("horizontal", "vertical", "horizontal_and_vertical")


def augmentation(
    params: Mapping[str, Any] | None, seed: int
) -> keras.Sequential | None:
    """Random flip, rotation, zoom, brightness and contrast; None when all are off."""
    if not params:
        return None
    flip = params.get("flip")
    if flip is not None and flip not in FLIPS:
        raise ValueError(
            f"Unknown model_training.augmentation.flip '{flip}': use one of "
            f"{', '.join(FLIPS)} or null."
        )
    layers = []
    if flip:
        layers.append(keras.layers.RandomFlip(flip, seed=seed))
    if params.get("rotation"):
        layers.append(
            keras.layers.RandomRotation(
                params["rotation"], fill_mode="constant", seed=seed + 1
            )
        )
    if params.get("zoom"):
        layers.append(
            keras.layers.RandomZoom(params["zoom"], fill_mode="constant", seed=seed + 2)
        )
    if params.get("brightness"):
        layers.append(
            keras.layers.RandomBrightness(params["brightness"], seed=seed + 3)
        )
    if params.get("contrast"):
        layers.append(keras.layers.RandomContrast(params["contrast"], seed=seed + 4))
    return keras.Sequential(layers, name="augmentation") if layers else None


def _batches(
    indices: tf.data.Dataset, cache: Mapping[str, np.ndarray], num_classes: int
) -> tf.data.Dataset:
    """Batches of index tensors to (uint8 images, one-hot labels) batches."""
    images = cache["images"]
    labels = tf.one_hot(np.asarray(cache["labels"]), num_classes)

    def gather(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        batch = tf.numpy_function(
            lambda i: images[i], [index], tf.uint8, stateful=False
        )
        batch.set_shape((None, *images.shape[1:]))
        return batch, tf.gather(labels, index)

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return indices.map(gather, num_parallel_calls=AUTOTUNE).with_options(options)


def training_dataset(
    cache: Mapping[str, np.ndarray],
    num_classes: int,
    batch_size: int,
    seed: int,
    augment: keras.Sequential | None = None,
) -> tf.data.Dataset:
    """Shuffled (with ``seed``, anew each epoch), batched, augmented and prefetched."""
    count = len(cache["labels"])
    indices = (
        tf.data.Dataset.range(count)
        .shuffle(count, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )
    data = _batches(indices, cache, num_classes)
    if augment is not None:
        data = data.map(
            lambda x, y: (augment(tf.cast(x, tf.float32), training=True), y),
            num_parallel_calls=AUTOTUNE,
        )
    return data.prefetch(AUTOTUNE)


def evaluation_dataset(
    cache: Mapping[str, np.ndarray], num_classes: int, batch_size: int
) -> tf.data.Dataset:
    """In order, batched and prefetched, without augmentation."""
    indices = tf.data.Dataset.range(len(cache["labels"])).batch(batch_size)
    return _batches(indices, cache, num_classes).prefetch(AUTOTUNE)


def balanced_class_weights(labels: np.ndarray, num_classes: int) -> dict[int, float]:
    """``n_samples / (n_classes * count)`` per class, as scikit-learn's "balanced"."""
    counts = np.bincount(np.asarray(labels), minlength=num_classes)
    present = counts > 0
    weights = np.ones(num_classes)
    weights[present] = len(labels) / (present.sum() * counts[present])
    return {index: float(weight) for index, weight in enumerate(weights)}
