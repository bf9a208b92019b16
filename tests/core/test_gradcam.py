"""Grad-CAM points at the evidence: a bright patch whose position sets the class."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import KerasTensor

from brain_tumor_mri.core.gradcam import (
    make_gradcam_heatmaps,
    overlay_heatmap,
    resize_heatmap,
)

SIZE = 32
PATCH = 8
QUADRANTS = ((0, 0), (0, 16), (16, 0), (16, 16))


def bright_patch_images(
    count: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dark noisy images with one bright patch; the class is the patch's quadrant.

    The patch never touches the image's border, so a constant heatmap (peak at the
    top-left pixel) is never inside it.
    """
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 40, (count, SIZE, SIZE, 3), dtype=np.uint8)
    labels = np.arange(count) % 4
    masks = np.zeros((count, SIZE, SIZE), dtype=bool)
    for i, label in enumerate(labels):
        top, left = QUADRANTS[label]
        row, col = top + rng.integers(1, 16 - PATCH), left + rng.integers(1, 16 - PATCH)
        images[i, row : row + PATCH, col : col + PATCH] = rng.integers(200, 256)
        masks[i, row : row + PATCH, col : col + PATCH] = True
    return images, labels, masks


def peak_in_patch_fraction(heatmaps: np.ndarray, masks: np.ndarray) -> float:
    """Share of images whose heatmap, resized to the image, peaks inside the patch."""
    hits = []
    for heatmap, mask in zip(heatmaps, masks, strict=True):
        resized = resize_heatmap(heatmap, mask.shape)
        row, col = np.unravel_index(np.argmax(resized), resized.shape)
        hits.append(mask[row, col])
    return float(np.mean(hits))


def with_coordinates(x: KerasTensor) -> KerasTensor:
    """The input and its mean intensity times each pixel's row and column in [-1, 1].

    Global average pooling discards where features are, so the net needs the position
    as input (CoordConv) to tell the quadrants apart; weighting it by the intensity
    keeps the dark background from carrying position features of its own.
    """
    rows, cols = keras.ops.meshgrid(
        keras.ops.linspace(-1.0, 1.0, SIZE),
        keras.ops.linspace(-1.0, 1.0, SIZE),
        indexing="ij",
    )
    grid = keras.ops.expand_dims(keras.ops.stack([rows, cols], axis=-1), 0)
    intensity = keras.ops.mean(x, axis=-1, keepdims=True)
    return keras.ops.concatenate([x, intensity * grid], axis=-1)


def quadrant_classifier() -> keras.Model:
    """Like the ResNet-50 classifier: flat and functional, global average pooling, a
    softmax output named ``predictions``; small, and with the position as input."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Lambda(with_coordinates)(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="last_conv")(
        x
    )
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def trained_quadrant_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    images, labels, _ = bright_patch_images(200, seed=0)
    model = quadrant_classifier()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(images, labels, epochs=8, batch_size=32, verbose=0)
    return model


def test_heatmap_peaks_inside_the_bright_patch(trained_quadrant_model) -> None:
    images, labels, masks = bright_patch_images(80, seed=1)
    probabilities = trained_quadrant_model.predict(images, verbose=0)
    assert (probabilities.argmax(axis=1) == labels).mean() >= 0.9

    heatmaps = make_gradcam_heatmaps(
        trained_quadrant_model, images, labels, "last_conv", batch_size=32
    )

    assert heatmaps.shape == (80, 16, 16)
    assert heatmaps.min() >= 0.0
    assert heatmaps.max() <= 1.0
    assert np.allclose(heatmaps.max(axis=(1, 2)), 1.0)
    assert peak_in_patch_fraction(heatmaps, masks) >= 0.8
    # The same criterion rejects heatmaps that carry no information.
    constant = np.ones_like(heatmaps)
    noise = np.random.default_rng(2).random(heatmaps.shape).astype(np.float32)
    assert peak_in_patch_fraction(constant, masks) < 0.8
    assert peak_in_patch_fraction(noise, masks) < 0.8


def test_heatmaps_default_to_the_predicted_class(trained_quadrant_model) -> None:
    images, _, _ = bright_patch_images(8, seed=3)
    predicted = trained_quadrant_model.predict(images, verbose=0).argmax(axis=1)

    default = make_gradcam_heatmaps(
        trained_quadrant_model, images, None, "last_conv", 8
    )
    explicit = make_gradcam_heatmaps(
        trained_quadrant_model, images, predicted, "last_conv", 8
    )

    np.testing.assert_allclose(default, explicit, atol=1e-6)


def test_unknown_layer_is_reported(trained_quadrant_model) -> None:
    with pytest.raises(ValueError, match="no_such_layer"):
        make_gradcam_heatmaps(
            trained_quadrant_model,
            np.zeros((1, SIZE, SIZE, 3)),
            None,
            "no_such_layer",
            1,
        )


def test_overlay_is_an_rgb_image_of_the_image_size() -> None:
    image = np.full((20, 30, 3), 100, dtype=np.uint8)
    heatmap = np.zeros((4, 6), dtype=np.float32)
    heatmap[0, 0] = 1.0

    overlay = overlay_heatmap(image, heatmap, alpha=0.5)

    assert overlay.shape == (20, 30, 3)
    assert overlay.dtype == np.uint8
    # JET maps 1 to dark red and 0 to dark blue: the hot corner is redder than blue.
    assert overlay[0, 0, 0] > overlay[0, 0, 2]
    assert overlay[-1, -1, 2] > overlay[-1, -1, 0]
    np.testing.assert_array_equal(overlay_heatmap(image, heatmap, alpha=0.0), image)


def test_model_whose_output_is_not_a_dense_softmax() -> None:
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="features")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(4)(x)
    outputs = keras.layers.Activation("softmax")(x)
    model = keras.Model(inputs, outputs)
    images, _, _ = bright_patch_images(5, seed=4)

    heatmaps = make_gradcam_heatmaps(model, images, None, "features", 5)

    assert heatmaps.shape == (5, 30, 30)
    assert 0.0 <= heatmaps.min() <= heatmaps.max() <= 1.0
