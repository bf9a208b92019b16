"""Keras' random image layers (``RandAugment``, ``MixUp``, ``CutMix``) drawn from a
step's stateless seed.

Keras 3 random ops take an integer or a ``keras.random.SeedGenerator`` as their seed,
not a seed tensor (``keras.random``'s ``draw_seed`` refuses one), and its image layers
draw from their own ``generator``: a variable whose state advances at every call.
Under a parallel ``tf.data`` map the order of those calls varies, and a resumed run
starts the state afresh, so neither sees the draws of an uninterrupted run. Keras
has no public API to seed a call (keras-team/governance#10 asked for one in 2019).

``StepSeeds`` is a ``SeedGenerator`` whose draws are folded, one after the other, from
a step's seed tensor, and ``random_transformation`` hands it to a layer, and to the
inner layers of ``RandAugment``, through the undocumented ``generator`` attribute.
tests/compat/test_keras_step_seeds.py fails when that changes.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


class StepSeeds(keras.random.SeedGenerator):
    """A seed generator without state: its n-th draw is ``seed`` folded with n."""

    def __init__(self, seed: tf.Tensor) -> None:  # no variable: nothing to advance
        self._step_seed = seed
        self._draws = 0

    def next(self, ordered: bool = True) -> tf.Tensor:
        self._draws += 1
        return tf.random.experimental.stateless_fold_in(self._step_seed, self._draws)


def random_transformation(
    layer: keras.layers.Layer, data: dict[str, tf.Tensor], seed: tf.Tensor
) -> Any:
    """``layer.get_random_transformation`` drawn from ``seed`` (a stateless seed of
    shape (2,)), for the layer's ``transform_images`` and ``transform_labels``."""
    seeds = StepSeeds(seed)
    for inner in (layer, *(getattr(layer, name) for name in _inner_layers(layer))):
        inner.generator = seeds
    return layer.get_random_transformation(data, training=True, seed=seeds)


def _inner_layers(layer: keras.layers.Layer) -> list[str]:
    return list(getattr(layer, "_AUGMENT_LAYERS", ()))
