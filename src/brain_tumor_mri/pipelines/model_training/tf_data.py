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

import keras
import numpy as np
import tensorflow as tf

from brain_tumor_mri.compat.keras_step_seeds import random_transformation
from brain_tumor_mri.config.base import typed_params
from brain_tumor_mri.pipelines.model_training.params import AugmentationParams

AUTOTUNE = tf.data.AUTOTUNE
# Folded into a batch's seed for the acquisition changes, so that adding them leaves
# the draws of the other augmentations as they were.
ACQUISITION = 1
# Folded into a batch's seed for Keras' RandAugment and for the label mixing (MixUp,
# CutMix), for the same reason.
RAND_AUGMENT = 2
LABEL_MIXING = 3
ACQUISITION_CHANGES = ("resolution", "sharpness", "jpeg_quality")
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
    images: tf.Tensor,
    seeds: tf.Tensor,
    params: AugmentationParams,
    strength: tf.Tensor,
) -> tf.Tensor:
    """Random rotation, zoom and translation in one affine resampling."""
    count = tf.shape(images)[0]
    height, width = images.shape[1:3]

    def limit(value: float | None) -> tf.Tensor:
        return (value or 0) * strength

    angles = _uniform(seeds[0], [count], limit(params.rotation)) * 2 * math.pi
    scales = 1 + _uniform(seeds[1], [count], limit(params.zoom))
    shift = limit(params.translation)
    shifts = _uniform(seeds[2], [count, 2], shift) * [height, width]
    return keras.ops.image.affine_transform(
        images, _affine(angles, scales, shifts, height, width), fill_mode="constant"
    )


def _intensity(
    images: tf.Tensor,
    seeds: tf.Tensor,
    params: AugmentationParams,
    strength: tf.Tensor,
) -> tf.Tensor:
    """Random brightness, contrast, gamma, inversion and noise (values 0-255)."""
    one_per_image = tf.stack([tf.shape(images)[0], 1, 1, 1])
    if params.brightness:
        images += _uniform(seeds[0], one_per_image, params.brightness * strength) * 255
    if params.contrast:
        factor = 1 + _uniform(seeds[1], one_per_image, params.contrast * strength)
        mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
        images = (images - mean) * factor + mean
    images = tf.clip_by_value(images, 0, 255)
    if params.gamma:
        log_gamma = math.log(1 + params.gamma) * strength
        gamma = tf.exp(_uniform(seeds[2], one_per_image, log_gamma))
        images = 255 * tf.pow(images / 255, gamma)
    if params.invert:
        draw = tf.random.stateless_uniform(one_per_image, seeds[3])
        invert = draw < params.invert * strength
        # Only the head is inverted: the black background stays black, as in an
        # MRI sequence with the opposite contrast.
        images = tf.where(invert & (images > 8), 255 - images, images)
    if params.noise:
        noise = tf.random.stateless_normal(tf.shape(images), seeds[4])
        images += noise * params.noise * strength * 255
    return images


def _resolution(images: tf.Tensor, seed: tf.Tensor, lowest: tf.Tensor) -> tf.Tensor:
    """Down- and up-sample the batch to a random effective resolution, from ``lowest``
    (a fraction of the size) to full, so that sharpness no longer tells the source."""
    height, width = images.shape[1:3]
    scale = tf.random.stateless_uniform([], seed, minval=lowest, maxval=1.0)
    small = tf.cast(
        tf.round(scale * tf.constant([height, width], tf.float32)), tf.int32
    )
    reduced = tf.image.resize(images, tf.maximum(small, 8), antialias=True)
    return tf.image.resize(reduced, (height, width))


def _sharpness(images: tf.Tensor, seed: tf.Tensor, amount: tf.Tensor) -> tf.Tensor:
    """Blur (negative draws) or unsharp-mask (positive draws) each image by up to
    ``amount`` times the difference to its 3x3 Gaussian blur."""
    kernel = tf.constant([1.0, 2.0, 1.0]) / 4
    kernel = tf.tile(
        tf.reshape(kernel[:, None] * kernel[None, :], [3, 3, 1, 1]), [1, 1, 3, 1]
    )
    blurred = tf.nn.depthwise_conv2d(images, kernel, [1, 1, 1, 1], "SAME")
    factor = _uniform(seed, tf.stack([tf.shape(images)[0], 1, 1, 1]), amount)
    return images + factor * (images - blurred)


def _jpeg(images: tf.Tensor, seed: tf.Tensor, lowest: tf.Tensor) -> tf.Tensor:
    """Re-encode each image as JPEG at a random quality from ``lowest`` to 100."""
    count = tf.shape(images)[0]
    qualities = tf.random.stateless_uniform(
        [count], seed, minval=tf.cast(lowest, tf.int32), maxval=101, dtype=tf.int32
    )

    def encode(item: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        image, quality = item
        pixels = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        return tf.cast(tf.image.adjust_jpeg_quality(pixels, quality), tf.float32)

    encoded = tf.map_fn(encode, (images, qualities), fn_output_signature=tf.float32)
    return tf.ensure_shape(encoded, images.shape)


def _acquisition(
    images: tf.Tensor,
    seeds: tf.Tensor,
    params: AugmentationParams,
    strength: tf.Tensor,
) -> tf.Tensor:
    """Random effective resolution, sharpness and JPEG quality: the cues that come
    with the scanner and the collection rather than with the anatomy."""
    if params.resolution:
        images = _resolution(images, seeds[0], 1 - params.resolution * strength)
    if params.sharpness:
        images = _sharpness(images, seeds[1], params.sharpness * strength)
    if params.jpeg_quality:
        lowest = 100 - (100 - params.jpeg_quality) * strength
        images = _jpeg(tf.clip_by_value(images, 0, 255), seeds[2], lowest)
    return images


@typed_params
def augment(
    images: tf.Tensor,
    seed: tf.Tensor,
    params: AugmentationParams,
    strength: tf.Tensor | float = 1.0,
) -> tf.Tensor:
    """Random flips, geometry, acquisition and intensity changes, drawn per image from
    ``seed``, every magnitude (and the inversion probability) times ``strength``.

    ``images`` is a float batch with values 0-255. ``rotation`` is a fraction of a full
    turn, ``zoom`` and ``translation`` fractions of the size, ``brightness`` and
    ``noise`` (standard deviation) fractions of 255, ``contrast`` the largest change of
    the contrast factor, ``gamma`` the largest change of the gamma exponent (0.5:
    1/1.5 to 1.5), ``invert`` the probability of inverting the head's intensities,
    ``resolution`` the largest loss of effective resolution (0.6: down to 40 % of the
    size and back), ``sharpness`` the largest blur or unsharp-mask amount,
    ``jpeg_quality`` the lowest JPEG quality of a re-encoding.
    """
    strength = tf.cast(strength, tf.float32)
    seeds = tf.random.experimental.stateless_split(seed, num=10)
    one_per_image = tf.stack([tf.shape(images)[0], 1, 1, 1])
    for index, axis in enumerate(FLIPS[params.flip] if params.flip else ()):
        flip = tf.random.stateless_uniform(one_per_image, seeds[index]) < 0.5
        images = tf.where(flip, tf.reverse(images, axis=[axis]), images)
    if params.rotation or params.zoom or params.translation:
        images = _geometry(images, seeds[2:5], params, strength)
    if any(getattr(params, name) for name in ACQUISITION_CHANGES):
        acquisition_seed = tf.random.experimental.stateless_fold_in(seed, ACQUISITION)
        images = _acquisition(
            images,
            tf.random.experimental.stateless_split(acquisition_seed, num=3),
            params,
            strength,
        )
    images = _intensity(images, seeds[5:10], params, strength)
    return tf.clip_by_value(images, 0, 255)


def batch_augmentation(
    params: AugmentationParams | None,
) -> Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]] | None:
    """Keras' ``RandAugment``, then ``MixUp`` or ``CutMix``, as a function of (float
    images 0-255, one-hot labels, the step's seed) to the batch and its mixed labels;
    ``None`` when the parameters ask for none of them.

    RandAugment applies the same ``num_ops`` operations to the whole batch; with both
    ``mixup`` and ``cutmix``, each batch uses one of them, half the batches each, as
    in timm's ``Mixup``. Their draws come from the step's seed, like ``augment``'s;
    ``ramp_epochs`` does not scale them.
    """
    if params is None:
        return None
    rand_augment = (
        keras.layers.RandAugment(
            value_range=(0, 255),
            num_ops=params.rand_augment.num_ops,
            factor=params.rand_augment.factor,
        )
        if params.rand_augment
        else None
    )
    mixers = []
    if params.mixup:
        mixers.append(keras.layers.MixUp(alpha=params.mixup))
    if params.cutmix:
        mixers.append(keras.layers.CutMix(factor=params.cutmix))
    if rand_augment is None and not mixers:
        return None

    def mix(
        layer: keras.layers.Layer, images: tf.Tensor, labels: tf.Tensor, seed: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        data = {"images": images, "labels": labels}
        transformation = random_transformation(layer, data, seed)
        return (
            layer.transform_images(images, transformation),
            layer.transform_labels(labels, transformation),
        )

    def apply(
        images: tf.Tensor, labels: tf.Tensor, seed: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        shape = images.shape
        if rand_augment is not None:
            ra_seed = tf.random.experimental.stateless_fold_in(seed, RAND_AUGMENT)
            transformation = random_transformation(
                rand_augment, {"images": images}, ra_seed
            )
            images = rand_augment.transform_images(images, transformation)
        if mixers:
            mix_seed = tf.random.experimental.stateless_fold_in(seed, LABEL_MIXING)
            first, *other = mixers
            if other:
                draw = tf.random.stateless_uniform([], mix_seed)
                images, labels = tf.cond(
                    draw < 0.5,
                    lambda: mix(first, images, labels, mix_seed),
                    lambda: mix(other[0], images, labels, mix_seed),
                )
            else:
                images, labels = mix(first, images, labels, mix_seed)
        images = tf.ensure_shape(tf.cast(images, tf.float32), shape)
        return tf.clip_by_value(images, 0, 255), labels

    return apply


def ramp_strength(epoch: tf.Tensor, ramp_epochs: int | None) -> tf.Tensor:
    """The augmentation strength of an epoch (from 0): (epoch + 1) / ramp_epochs,
    at most 1; always 1 without a ramp."""
    if not ramp_epochs:
        return tf.constant(1.0)
    return tf.minimum(1.0, tf.cast(epoch + 1, tf.float32) / ramp_epochs)


def _gather(
    cache: Mapping[str, np.ndarray],
    num_classes: int,
    sample_weights: np.ndarray | None = None,
) -> Callable[[tf.Tensor], tuple[tf.Tensor, ...]]:
    """A function from a batch of indices to (uint8 images, one-hot labels), with the
    images' weights as a third element when ``sample_weights`` are given."""
    images = cache["images"]
    labels = tf.one_hot(np.asarray(cache["labels"]), num_classes)
    weights = (
        None if sample_weights is None else tf.constant(sample_weights, tf.float32)
    )

    def gather(index: tf.Tensor) -> tuple[tf.Tensor, ...]:
        batch = tf.numpy_function(
            lambda i: images[i], [index], tf.uint8, stateful=False
        )
        batch.set_shape((None, *images.shape[1:]))
        if weights is None:
            return batch, tf.gather(labels, index)
        return batch, tf.gather(labels, index), tf.gather(weights, index)

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


def _epoch_order(
    count: int, batch_size: int, seed: int, ramp_epochs: int | None
) -> Callable[[tf.Tensor], tf.data.Dataset]:
    """A function from an epoch to its batches of indices, shuffled by the seed and
    the epoch, each with its step's seed and the epoch's augmentation strength."""
    run_seed = tf.constant([seed, 0], dtype=tf.int64)

    def one_epoch(epoch: tf.Tensor) -> tf.data.Dataset:
        epoch_seed = tf.random.experimental.stateless_fold_in(run_seed, epoch)
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=epoch_seed
        )
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
        strength = ramp_strength(epoch, ramp_epochs)
        step_seeds = tf.data.Dataset.range(count).map(
            lambda step: (
                tf.random.experimental.stateless_fold_in(epoch_seed, step + 1),
                strength,
            )
        )
        return tf.data.Dataset.zip(batches, step_seeds)

    return one_epoch


@typed_params
def training_dataset(
    cache: Mapping[str, np.ndarray],
    num_classes: int,
    batch_size: int,
    seed: int,
    *,
    augmentation: AugmentationParams | None,
    epochs: range,
    sample_weights: np.ndarray | None = None,
) -> tf.data.Dataset:
    """The batches of ``epochs`` in a row: each epoch shuffled, augmented, prefetched.

    The augmentation's strength ramps up over ``augmentation.ramp_epochs`` epochs
    when given; Keras' RandAugment, MixUp and CutMix follow (``batch_augmentation``). With ``sample_weights`` (one per image) each batch carries its
    images' weights. Fit it with ``steps_per_epoch(cache, batch_size)`` steps per
    epoch and ``initial_epoch=epochs.start``.
    """
    gather = _gather(cache, num_classes, sample_weights)
    batch_augment = batch_augmentation(augmentation)

    def load(
        index: tf.Tensor, step: tuple[tf.Tensor, tf.Tensor]
    ) -> tuple[tf.Tensor, ...]:
        images, labels, *weights = gather(index)
        images = tf.cast(images, tf.float32)
        if augmentation:
            images = augment(images, step[0], augmentation, step[1])
        if batch_augment:
            images, labels = batch_augment(images, labels, step[0])
        return images, labels, *weights

    one_epoch = _epoch_order(
        len(cache["labels"]),
        batch_size,
        seed,
        augmentation.ramp_epochs if augmentation else None,
    )
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
