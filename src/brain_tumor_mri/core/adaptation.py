"""Adapting a model to a new collection's unlabelled images: AdaBN and TENT.

A model trained on one collection of scans meets another with other intensity
statistics. AdaBN (Li et al. 2016, arXiv:1603.04779) re-estimates every
BatchNormalization layer's moving mean and variance on the new collection's own
images, no label used, and keeps every other weight. TENT (Wang et al. 2021,
arXiv:2006.10726) then takes a few gradient steps on the BatchNormalization scale and
shift alone, minimising the entropy of the predictions. Both are options of
evaluation and batch inference and the methods of the ``site_adaptation`` pipeline;
the unadapted model and its figures stay the reference. Measuring what they changed
(``batch_norm_statistics``, ``batch_norm_shift``) is here too.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np
import tensorflow as tf

# Added to probabilities before their log (a softmax may underflow to 0).
_EPSILON = 1e-12


def _batch_norm_layers(layer: keras.layers.Layer) -> Iterator[keras.layers.Layer]:
    if isinstance(layer, keras.layers.BatchNormalization):
        yield layer
    for inner in getattr(layer, "layers", ()):
        yield from _batch_norm_layers(inner)


def _copy(model: keras.Model) -> keras.Model:
    """A new model of the same layers and weights; the original is never changed."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def adapt_batch_norm(
    model: keras.Model, images: np.ndarray, batch_size: int
) -> keras.Model:
    """A copy of ``model`` whose BatchNormalization statistics are the mean of the
    per-batch statistics of ``images`` (uint8 or float, 0-255, as the model takes)."""
    adapted = _copy(model)
    layers = list(_batch_norm_layers(adapted))
    momentum = [layer.momentum for layer in layers]
    trainable = [layer.trainable for layer in layers]
    for layer in layers:
        layer.trainable = True
    batches = np.array_split(np.arange(len(images)), -(-len(images) // batch_size))
    for count, indices in enumerate(batches, start=1):
        # moving = moving * momentum + batch * (1 - momentum): with momentum
        # (k - 1) / k at the k-th batch, the running value is the mean over the
        # batches, which are of (nearly) equal size.
        for layer in layers:
            layer.momentum = (count - 1) / count
        adapted(np.asarray(images[indices], dtype=np.float32), training=True)
    for layer, value, flag in zip(layers, momentum, trainable, strict=True):
        layer.momentum = value
        layer.trainable = flag
    return adapted


def batch_norm_statistics(model: keras.Model) -> dict[str, dict[str, np.ndarray]]:
    """``{layer path: {"moving_mean", "moving_variance", "gamma", "beta"}}`` of every
    BatchNormalization layer (``gamma``/``beta`` where the layer has them)."""
    statistics = {}
    for path, layer in _named_batch_norm_layers(model, top=True):
        values = {
            "moving_mean": keras.ops.convert_to_numpy(layer.moving_mean),
            "moving_variance": keras.ops.convert_to_numpy(layer.moving_variance),
        }
        for name in ("gamma", "beta"):
            variable = getattr(layer, name, None)
            if variable is not None:
                values[name] = keras.ops.convert_to_numpy(variable)
        statistics[path] = values
    return statistics


def _named_batch_norm_layers(
    layer: keras.layers.Layer, prefix: str = "", *, top: bool = False
) -> Iterator[tuple[str, keras.layers.Layer]]:
    """The BatchNormalization layers and their paths (``resnet50/conv1_bn``), from
    the model's own layers (a copy of a model gets another name of its own)."""
    path = "" if top else f"{prefix}{layer.name}"
    if isinstance(layer, keras.layers.BatchNormalization):
        yield path, layer
    for inner in getattr(layer, "layers", ()):
        yield from _named_batch_norm_layers(inner, f"{path}/" if path else "")


def batch_norm_shift(
    before: dict[str, dict[str, np.ndarray]], after: dict[str, dict[str, np.ndarray]]
) -> dict[str, dict[str, float]]:
    """Per BatchNormalization layer, the mean absolute change of each of its
    statistics and parameters (over its channels)."""
    return {
        layer: {
            name: float(np.mean(np.abs(after[layer][name] - values)))
            for name, values in statistics.items()
        }
        for layer, statistics in before.items()
    }


def summarise_shift(shift: dict[str, dict[str, float]]) -> dict[str, float]:
    """The mean and the largest over the layers of each per-layer change:
    ``{"moving_mean_mean": ..., "moving_mean_max": ..., ...}``."""
    names = sorted({name for changes in shift.values() for name in changes})
    summary = {}
    for name in names:
        values = [changes[name] for changes in shift.values() if name in changes]
        summary[f"{name}_mean"] = float(np.mean(values))
        summary[f"{name}_max"] = float(np.max(values))
    return summary


def _entropy(probabilities: tf.Tensor) -> tf.Tensor:
    return -tf.reduce_sum(
        probabilities * tf.math.log(probabilities + _EPSILON), axis=-1
    )


def tent_loss(probabilities: tf.Tensor, diversity_weight: float) -> tf.Tensor:
    """TENT's objective with a guard against collapse: the mean per-image entropy of
    the predictions minus ``diversity_weight`` times the entropy of their batch
    mean (a batch all predicted one class has a mean of low entropy)."""
    probabilities = tf.cast(probabilities, tf.float32)
    return tf.reduce_mean(_entropy(probabilities)) - diversity_weight * _entropy(
        tf.reduce_mean(probabilities, axis=0)
    )


def _shuffled_batches(
    count: int, batch_size: int, steps: int, seed: int
) -> Iterator[np.ndarray]:
    """``steps`` batches of indices, from seeded permutations of ``range(count)``, a
    new one each time the previous is used up."""
    rng = np.random.default_rng(seed)
    order = np.zeros(0, np.int64)
    for _ in range(steps):
        if len(order) < min(batch_size, count):
            order = np.concatenate([order, rng.permutation(count)])
        yield np.sort(order[:batch_size])
        order = order[batch_size:]


def tent_adapt(  # noqa: PLR0913 (TENT's settings, all keyword-only)
    model: keras.Model,
    images: np.ndarray,
    *,
    batch_size: int,
    steps: int,
    learning_rate: float,
    diversity_weight: float,
    seed: int,
) -> tuple[keras.Model, list[float]]:
    """A copy of ``model`` whose BatchNormalization scale and shift (gamma, beta), and
    nothing else, take ``steps`` SGD steps (momentum 0.9) on ``tent_loss`` over
    seeded shuffled batches of ``images``; and the loss of each step.

    Give it the AdaBN-adapted model: the layers normalise with their moving
    statistics (inference mode) during the steps, so that the statistics stay the
    ones re-estimated on all the images and each step's loss does not depend on
    which images share its batch (TENT's reference normalises with each batch's own
    statistics instead).
    """
    adapted = _copy(model)
    variables = [
        variable
        for layer in _batch_norm_layers(adapted)
        for variable in (layer.gamma, layer.beta)
        if variable is not None
    ]
    optimizer = keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)
    losses = []
    for indices in _shuffled_batches(len(images), batch_size, steps, seed):
        batch = tf.constant(np.asarray(images[indices], dtype=np.float32))
        with tf.GradientTape() as tape:
            loss = tent_loss(adapted(batch, training=False), diversity_weight)
        gradients = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        losses.append(float(loss))
    return adapted, losses
