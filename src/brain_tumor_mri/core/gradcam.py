"""Grad-CAM heatmaps of a flat functional Keras model, and their overlay on the image.

Follows keras.io's Grad-CAM example (``make_gradcam_heatmap``), batched: a model that
outputs both a convolutional layer's feature maps and the class scores, the gradient
of the class score with respect to the feature maps from ``tf.GradientTape``, the
channel weights as the spatial mean of that gradient, and the ReLU of the weighted
sum of the feature maps, normalised to [0, 1]. As in the example and in the paper,
the class score is the logit (before the softmax) when the output layer is a Dense
softmax, because the softmax saturates on confident predictions. The layer, the batch
size and the overlay's opacity are the shared ``gradcam`` parameters (``conf/``): no
default here.
"""

from __future__ import annotations

import cv2
import keras
import numpy as np
import tensorflow as tf


def _softmax_dense(layer: keras.layers.Layer) -> bool:
    return isinstance(layer, keras.layers.Dense) and layer.activation in (
        keras.activations.softmax,
        tf.nn.softmax,
    )


def gradcam_model(
    model: keras.Model, layer_name: str
) -> tuple[keras.Model, keras.layers.Layer | None]:
    """A model from the inputs to (feature maps of ``layer_name``, class scores).

    The second element is the Dense softmax output layer whose logits the scores are
    computed from (the model's last layer's input is returned in place of its output),
    or None when the scores are the model's outputs.
    """
    features = model.get_layer(layer_name).output
    last = model.layers[-1]
    if _softmax_dense(last) and last.output is model.outputs[0]:
        return keras.Model(model.inputs, [features, last.input]), last
    return keras.Model(model.inputs, [features, model.output]), None


def make_gradcam_heatmaps(
    model: keras.Model,
    images: np.ndarray,
    class_indices: np.ndarray | None,
    layer_name: str,
    batch_size: int,
) -> np.ndarray:
    """Heatmaps ``(n, h, w)`` in [0, 1] at the layer's resolution, one per image.

    ``class_indices`` are the classes to explain; ``None`` for the predicted ones. A
    heatmap with no positive evidence is all zeros.
    """
    grad_model, dense = gradcam_model(model, layer_name)

    # One graph for the forward pass, the gradient and the weighting: several times
    # faster than running them op by op (eagerly) once a batch or two has paid for
    # the tracing, and the same numbers.
    @tf.function(reduce_retracing=True)
    def batch_heatmaps(batch: tf.Tensor, targets: tf.Tensor | None) -> tf.Tensor:
        with tf.GradientTape() as tape:
            features, scores = grad_model(batch, training=False)
            features = tf.cast(features, tf.float32)
            scores = tf.cast(scores, tf.float32)
            if dense is not None:
                scores = tf.matmul(scores, tf.cast(dense.kernel, tf.float32))
                if dense.use_bias:
                    scores = scores + tf.cast(dense.bias, tf.float32)
            if targets is None:
                targets = tf.argmax(scores, axis=1)
            # Each image's score depends only on its own features (inference mode),
            # so the gradient of the sum is each image's gradient.
            score = tf.reduce_sum(tf.gather(scores, targets, axis=1, batch_dims=1))
        grads = tape.gradient(score, features)
        weights = tf.reduce_mean(grads, axis=(1, 2))
        heatmap = tf.nn.relu(tf.einsum("bhwc,bc->bhw", features, weights))
        peak = tf.reduce_max(heatmap, axis=(1, 2), keepdims=True)
        return tf.math.divide_no_nan(heatmap, peak)

    heatmaps = []
    for start in range(0, len(images), batch_size):
        batch = tf.convert_to_tensor(images[start : start + batch_size])
        targets = (
            None
            if class_indices is None
            else tf.constant(class_indices[start : start + batch_size])
        )
        heatmaps.append(batch_heatmaps(batch, targets).numpy().astype(np.float32))
    if not heatmaps:
        shape = grad_model.outputs[0].shape[1:3]
        return np.zeros((0, *shape), dtype=np.float32)
    return np.concatenate(heatmaps)


def resize_heatmap(heatmap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A heatmap resized (bilinear) to ``size`` (height, width), clipped to [0, 1]."""
    resized = cv2.resize(
        heatmap.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR
    )
    return np.clip(resized, 0.0, 1.0)


def overlay_heatmap(
    image_uint8: np.ndarray, heatmap: np.ndarray, alpha: float
) -> np.ndarray:
    """The RGB image blended with the heatmap in OpenCV's JET colour map (uint8 RGB)."""
    image = np.asarray(image_uint8)
    if image.ndim == 2 or image.shape[-1] == 1:
        image = np.repeat(image.reshape(*image.shape[:2], 1), 3, axis=-1)
    heat = resize_heatmap(heatmap, image.shape[:2])
    colour = cv2.applyColorMap(np.uint8(np.round(255 * heat)), cv2.COLORMAP_JET)
    colour = cv2.cvtColor(colour, cv2.COLOR_BGR2RGB)
    blended = (1 - alpha) * image.astype(np.float32) + alpha * colour.astype(np.float32)
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)
