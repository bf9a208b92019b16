"""``tf.data`` input pipelines that stream the cached (memory-mapped) splits.

Batches are gathered from the uint8 arrays by index, so a split is never copied
whole into memory; augmentation runs in the pipeline on the CPU, not in the model.
Every random draw (the order of an epoch, the augmentation of a batch) is stateless,
seeded by the seed, the epoch and the step, so that a run resumed at epoch N sees
exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE
FLIPS = {"horizontal": (2,), "vertical": (1,), "horizontal_and_vertical": (1, 2)}


def _uniform(seed: tf.Tensor, shape: tf.Tensor, limit: float) -> tf.Tensor:
    return tf.random.stateless_uniform(shape, seed, minval=-limit, maxval=limit)


def _affine(
    angles: tf.Tensor, scales: tf.Tensor, shifts: tf.Tensor, height: int, width: int
) -> tf.Tensor:
    """Projective transforms (output to input pixel): rotate and scale about the centre,
    then shift by ``shifts`` (``(n, 2)``, in pixels along y and x)."""
    cos, sin = tf.cos(angles) * scales, tf.sin(angles) * scales
    cx, cy = (width - 1) / 2, (height - 1) / 2
    zeros = tf.zeros_like(angles)
    return tf.stack(
        [
            cos,
            -sin,
            cx - cos * cx + sin * cy + shifts[:, 1],
            sin,
            cos,
            cy - sin * cx - cos * cy + shifts[:, 0],
            zeros,
            zeros,
        ],
        axis=1,
    )


def _geometry(
    images: tf.Tensor, seeds: tf.Tensor, params: Mapping[str, Any]
) -> tf.Tensor:
    """Random rotation, zoom and translation in one affine resampling."""
    count = tf.shape(images)[0]
    height, width = images.shape[1:3]
    angles = _uniform(seeds[0], [count], params.get("rotation") or 0) * 2 * math.pi
    scales = 1 + _uniform(seeds[1], [count], params.get("zoom") or 0)
    shifts = _uniform(seeds[2], [count, 2], params.get("translation") or 0) * [
        height,
        width,
    ]
    return keras.ops.image.affine_transform(
        images, _affine(angles, scales, shifts, height, width), fill_mode="constant"
    )


def _intensity(
    images: tf.Tensor, seeds: tf.Tensor, params: Mapping[str, Any]
) -> tf.Tensor:
    """Random brightness, contrast, gamma, inversion and noise (values 0-255)."""
    one_per_image = tf.stack([tf.shape(images)[0], 1, 1, 1])
    if params.get("brightness"):
        images += _uniform(seeds[0], one_per_image, params["brightness"]) * 255
    if params.get("contrast"):
        factor = 1 + _uniform(seeds[1], one_per_image, params["contrast"])
        mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
        images = (images - mean) * factor + mean
    images = tf.clip_by_value(images, 0, 255)
    if params.get("gamma"):
        gamma = tf.exp(_uniform(seeds[2], one_per_image, math.log(1 + params["gamma"])))
        images = 255 * tf.pow(images / 255, gamma)
    if params.get("invert"):
        invert = tf.random.stateless_uniform(one_per_image, seeds[3]) < params["invert"]
        # Only the head is inverted: the black background stays black, as in an
        # MRI sequence with the opposite contrast.
        images = tf.where(invert & (images > 8), 255 - images, images)
    if params.get("noise"):
        noise = tf.random.stateless_normal(tf.shape(images), seeds[4])
        images += noise * params["noise"] * 255
    return images


def augment(images: tf.Tensor, seed: tf.Tensor, params: Mapping[str, Any]) -> tf.Tensor:
    """Random flips, geometry and intensity changes, drawn per image from ``seed``.

    ``images`` is a float batch with values 0-255. ``rotation`` is a fraction of a full
    turn, ``zoom`` and ``translation`` fractions of the size, ``brightness`` and
    ``noise`` (standard deviation) fractions of 255, ``contrast`` the largest change of
    the contrast factor, ``gamma`` the largest change of the gamma exponent (0.5:
    1/1.5 to 1.5), ``invert`` the probability of inverting the head's intensities.
    """
    seeds = tf.random.experimental.stateless_split(seed, num=10)
    one_per_image = tf.stack([tf.shape(images)[0], 1, 1, 1])
    for index, axis in enumerate(FLIPS.get(params.get("flip"), ())):
        flip = tf.random.stateless_uniform(one_per_image, seeds[index]) < 0.5
        images = tf.where(flip, tf.reverse(images, axis=[axis]), images)
    if params.get("rotation") or params.get("zoom") or params.get("translation"):
        images = _geometry(images, seeds[2:5], params)
    images = _intensity(images, seeds[5:10], params)
    return tf.clip_by_value(images, 0, 255)


def _gather(
    cache: Mapping[str, np.ndarray], num_classes: int
) -> Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """A function from a batch of indices to (uint8 images, one-hot labels)."""
    images = cache["images"]
    labels = tf.one_hot(np.asarray(cache["labels"]), num_classes)

    def gather(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        batch = tf.numpy_function(
            lambda i: images[i], [index], tf.uint8, stateful=False
        )
        batch.set_shape((None, *images.shape[1:]))
        return batch, tf.gather(labels, index)

    return gather


def _distributable(data: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return data.with_options(options)


def steps_per_epoch(cache: Mapping[str, np.ndarray], batch_size: int) -> int:
    """Batches in one epoch of the split (the last one may be smaller)."""
    return math.ceil(len(cache["labels"]) / batch_size)


def training_dataset(
    cache: Mapping[str, np.ndarray],
    num_classes: int,
    batch_size: int,
    seed: int,
    *,
    augmentation: Mapping[str, Any] | None,
    epochs: range,
) -> tf.data.Dataset:
    """The batches of ``epochs`` in a row: each epoch shuffled, augmented, prefetched.

    Fit it with ``steps_per_epoch(cache, batch_size)`` steps per epoch and
    ``initial_epoch=epochs.start``.
    """
    count = len(cache["labels"])
    run_seed = tf.constant([seed, 0], dtype=tf.int64)
    gather = _gather(cache, num_classes)

    def one_epoch(epoch: tf.Tensor) -> tf.data.Dataset:
        epoch_seed = tf.random.experimental.stateless_fold_in(run_seed, epoch)
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=epoch_seed
        )
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
        step_seeds = tf.data.Dataset.range(count).map(
            lambda step: tf.random.experimental.stateless_fold_in(epoch_seed, step + 1)
        )
        return tf.data.Dataset.zip(batches, step_seeds)

    def load(index: tf.Tensor, step_seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        images, labels = gather(index)
        images = tf.cast(images, tf.float32)
        if augmentation:
            images = augment(images, step_seed, augmentation)
        return images, labels

    data = (
        tf.data.Dataset.range(epochs.start, epochs.stop)
        .flat_map(one_epoch)
        .map(load, num_parallel_calls=AUTOTUNE)
    )
    return _distributable(data).prefetch(AUTOTUNE)


def evaluation_dataset(
    cache: Mapping[str, np.ndarray], num_classes: int, batch_size: int
) -> tf.data.Dataset:
    """In order, batched and prefetched, without augmentation (uint8 images)."""
    indices = tf.data.Dataset.range(len(cache["labels"])).batch(batch_size)
    data = indices.map(_gather(cache, num_classes), num_parallel_calls=AUTOTUNE)
    return _distributable(data).prefetch(AUTOTUNE)


def balanced_class_weights(labels: np.ndarray, num_classes: int) -> dict[int, float]:
    """``n_samples / (n_classes * count)`` per class, as scikit-learn's "balanced"."""
    counts = np.bincount(np.asarray(labels), minlength=num_classes)
    present = counts > 0
    weights = np.ones(num_classes)
    weights[present] = len(labels) / (present.sum() * counts[present])
    return {index: float(weight) for index, weight in enumerate(weights)}
