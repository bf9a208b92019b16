"""Adaptive batch normalisation (AdaBN; Li et al. 2016, arXiv:1603.04779).

A model trained on one collection of scans meets another with other intensity
statistics. AdaBN re-estimates every BatchNormalization layer's moving mean and
variance on the new collection's own images, no label used, and keeps every other
weight. It is an option of evaluation and batch inference; the unadapted figures stay
the reference.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np


def _batch_norm_layers(layer: keras.layers.Layer) -> Iterator[keras.layers.Layer]:
    if isinstance(layer, keras.layers.BatchNormalization):
        yield layer
    for inner in getattr(layer, "layers", ()):
        yield from _batch_norm_layers(inner)


def adapt_batch_norm(
    model: keras.Model, images: np.ndarray, batch_size: int
) -> keras.Model:
    """A copy of ``model`` whose BatchNormalization statistics are the mean of the
    per-batch statistics of ``images`` (uint8 or float, 0-255, as the model takes)."""
    adapted = keras.models.clone_model(model)
    adapted.set_weights(model.get_weights())
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
