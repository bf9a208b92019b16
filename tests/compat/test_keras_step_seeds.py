"""Pins compat/keras_step_seeds.py: Keras' image layers draw only from the seed given."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from brain_tumor_mri.compat.keras_step_seeds import StepSeeds, random_transformation

IMAGES = tf.random.stateless_uniform((6, 32, 32, 3), [1, 2], maxval=255)
LABELS = tf.one_hot(tf.range(6) % 4, 4)
LAYERS = {
    "RandAugment": lambda seed: keras.layers.RandAugment(
        value_range=(0, 255), num_ops=3, factor=0.8, seed=seed
    ),
    "MixUp": lambda seed: keras.layers.MixUp(alpha=0.4, seed=seed),
    "CutMix": lambda seed: keras.layers.CutMix(factor=1.0, seed=seed),
}


@pytest.mark.parametrize("name", LAYERS)
def test_a_layer_draws_only_from_the_step_seed(name: str):
    """Two layers built with different seeds give the same batch for one step seed
    (so nothing of their own generator is used), another step seed another batch,
    and a parallel tf.data map gives each step its own draws in any order."""
    first, second = LAYERS[name](1), LAYERS[name](2)
    step = tf.constant([7, 3], tf.int64)
    np.testing.assert_array_equal(_augmented(first, step), _augmented(second, step))
    other = tf.constant([7, 4], tf.int64)
    assert not np.array_equal(_augmented(first, step), _augmented(first, other))

    def mapped() -> list[bytes]:
        data = tf.data.Dataset.range(8).map(
            lambda i: _flat(first, tf.stack([i, tf.constant(0, tf.int64)])),
            num_parallel_calls=4,
            deterministic=False,
        )
        return sorted(batch.numpy().tobytes() for batch in data)

    assert mapped() == mapped()


def _augmented(layer: keras.layers.Layer, seed: tf.Tensor) -> np.ndarray:
    return _flat(layer, seed).numpy()


def _flat(layer: keras.layers.Layer, seed: tf.Tensor) -> tf.Tensor:
    """The layer's images and labels for one step seed, in one flat vector."""
    data = {"images": IMAGES, "labels": LABELS}
    transformation = random_transformation(layer, data, seed)
    images = layer.transform_images(IMAGES, transformation)
    labels = layer.transform_labels(LABELS, transformation)
    return tf.concat(
        [tf.reshape(tf.cast(t, tf.float32), [-1]) for t in (images, labels)], 0
    )


def test_step_seeds_fold_the_step_seed_with_a_count():
    seeds = StepSeeds(tf.constant([5, 6], tf.int64))
    draws = [seeds.next().numpy() for _ in range(3)]
    assert len({tuple(draw) for draw in draws}) == 3
    again = StepSeeds(tf.constant([5, 6], tf.int64))
    np.testing.assert_array_equal(again.next().numpy(), draws[0])
