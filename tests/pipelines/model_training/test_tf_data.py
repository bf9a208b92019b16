"""The tf.data pipelines: shuffled, augmented, reproducible epochs; class weights."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from brain_tumor_mri.pipelines.model_training.params import AugmentationParams
from brain_tumor_mri.pipelines.model_training.tf_data import (
    augment,
    balanced_class_weights,
    batch_augmentation,
    evaluation_dataset,
    ramp_strength,
    steps_per_epoch,
    training_dataset,
)
from tests.conftest import QuickTrainingRun
from tests.helpers.training_projects import load_cache


def _batches(cache: dict, augmentation: dict, epochs: range) -> list:
    """(images, labels) of each batch of ``epochs``: 4 classes, batches of 10, seed 1."""
    data = training_dataset(
        cache, 4, 10, seed=1, augmentation=augmentation, epochs=epochs
    )
    return [(images.numpy(), labels.numpy()) for images, labels in data]


def test_tf_data_epochs_are_shuffled_augmented_and_reproducible(
    quick_training_run: QuickTrainingRun,
):
    cache = load_cache(quick_training_run.project_path, "val")
    augmentation = {
        "flip": "horizontal_and_vertical",
        "rotation": 0.05,
        "zoom": 0.1,
        "translation": 0.1,
        "contrast": 0.1,
        "gamma": 0.5,
        "invert": 0.2,
        "noise": 0.02,
    }

    def batches(epochs: range) -> list:
        return _batches(cache, augmentation, epochs)

    three_epochs = batches(range(3))
    steps = steps_per_epoch(cache, 10)
    assert [len(images) for images, _ in three_epochs] == [10, 10, 4] * 3
    images, labels = three_epochs[0]
    assert images.dtype == np.float32 and 0 <= images.min() <= images.max() <= 255
    assert labels.shape == (10, 4)
    # A run resumed at epoch 2 sees the very batches of an uninterrupted run.
    for (a, _), (b, _) in zip(three_epochs[steps:], batches(range(1, 3)), strict=True):
        np.testing.assert_array_equal(a, b)
    # Each epoch has its own order and augmentation.
    assert not np.array_equal(three_epochs[0][0], three_epochs[steps][0])
    in_order = list(evaluation_dataset(cache, 4, 10))
    assert in_order[0][0].dtype == "uint8"
    np.testing.assert_array_equal(
        np.concatenate([labels.numpy().argmax(1) for _, labels in in_order]),
        cache["labels"],
    )
    epoch_labels = np.concatenate([labels for _, labels in three_epochs[:steps]])
    assert sorted(epoch_labels.argmax(1)) == sorted(cache["labels"])
    assert not np.array_equal(epoch_labels.argmax(1), cache["labels"])


def test_intensity_augmentation_on_real_images(quick_training_run: QuickTrainingRun):
    images = np.asarray(
        load_cache(quick_training_run.project_path, "val")["images"][:8], np.float32
    )
    seed = tf.constant([3, 0], dtype=tf.int64)
    background = images.max(axis=-1, keepdims=True) <= 8

    inverted = augment(images, seed, {"invert": 1.0}).numpy()
    np.testing.assert_allclose(
        inverted, np.where(background, images, 255 - images), atol=1e-4
    )
    gamma = augment(images, seed, {"gamma": 0.5}).numpy()
    assert not np.allclose(gamma, images)
    # A gamma change keeps black black and white white, and the order of intensities.
    np.testing.assert_array_equal(gamma[images == 0], 0)
    row = images[0, 32, :, 0]
    assert (np.diff(gamma[0, 32, :, 0][np.argsort(row)]) >= -1e-3).all()
    noisy = augment(images, seed, {"noise": 0.05}).numpy()
    assert 5 < np.std(noisy - images) < 15
    np.testing.assert_array_equal(augment(images, seed, {"noise": 0.05}), noisy)


def test_balanced_class_weights():
    weights = balanced_class_weights(np.array([0, 0, 0, 1, 2, 2]), 4)
    assert weights == {0: 2 / 3, 1: 2.0, 2: 1.0, 3: 1.0}


def test_acquisition_changes_grow_with_the_ramp() -> None:
    rng = np.random.default_rng(1)
    images = tf.constant(rng.uniform(0, 255, (4, 32, 32, 3)), tf.float32)
    seed = tf.constant([1, 2], tf.int64)
    params = {"resolution": 0.6, "sharpness": 1.0}
    untouched = augment(images, seed, params, strength=0.0)
    np.testing.assert_allclose(untouched, images, atol=0.01)
    params["jpeg_quality"] = 20
    changed = augment(images, seed, params, strength=1.0)
    assert float(tf.reduce_mean(tf.abs(changed - images))) > 5
    assert float(tf.reduce_min(changed)) >= 0
    assert float(tf.reduce_max(changed)) <= 255
    assert [float(ramp_strength(tf.constant(e), 4)) for e in range(6)] == [
        0.25,
        0.5,
        0.75,
        1.0,
        1.0,
        1.0,
    ]
    assert float(ramp_strength(tf.constant(0), None)) == 1.0


def test_rand_augment_and_label_mixing_are_reproducible_and_resumable(
    quick_training_run: QuickTrainingRun,
):
    cache = load_cache(quick_training_run.project_path, "val")
    augmentation = {
        "flip": "horizontal",
        "rand_augment": {"num_ops": 2, "factor": 0.5},
        "mixup": 0.4,
        "cutmix": 1.0,
    }

    def batches(epochs: range) -> list:
        return _batches(cache, augmentation, epochs)

    two_epochs = batches(range(2))
    steps = steps_per_epoch(cache, 10)
    for (a, la), (b, lb) in zip(two_epochs[steps:], batches(range(1, 2)), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(la, lb)
    labels = np.concatenate([labels for _, labels in two_epochs])
    images = np.concatenate([images for images, _ in two_epochs])
    assert images.shape[1:] == cache["images"].shape[1:]
    assert 0 <= images.min() <= images.max() <= 255
    # Mixed labels: still distributions, and some of them between two classes.
    np.testing.assert_allclose(labels.sum(axis=1), 1, rtol=1e-5)
    assert ((labels > 0.05) & (labels < 0.95)).any()
    # Without the mixing, the same epochs keep one-hot labels.
    plain = training_dataset(
        cache,
        4,
        10,
        seed=1,
        augmentation={"rand_augment": {"num_ops": 2, "factor": 0.5}},
        epochs=range(1),
    )
    for _, one_hot in plain:
        assert set(np.unique(one_hot.numpy())) <= {0.0, 1.0}


def test_batch_augmentation_is_off_unless_asked():
    assert batch_augmentation(None) is None
    assert batch_augmentation(AugmentationParams(flip="horizontal")) is None
    assert batch_augmentation(AugmentationParams(mixup=0.2)) is not None
