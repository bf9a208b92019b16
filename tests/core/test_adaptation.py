"""AdaBN and TENT on real MRI slices: what each changes in the model, and what not."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from brain_tumor_mri.core.adaptation import (
    adapt_batch_norm,
    batch_norm_shift,
    batch_norm_statistics,
    summarise_shift,
    tent_adapt,
    tent_loss,
)
from brain_tumor_mri.core.images.loading import load_rgb

SIZE = 32
TENT = {"batch_size": 8, "steps": 3, "learning_rate": 0.01, "diversity_weight": 1.0}


@pytest.fixture(scope="module")
def slices(shared_data_dir: Path) -> np.ndarray:
    """Twenty real test slices of two classes, at 32x32."""
    files = [
        *sorted((shared_data_dir / "Testing" / "glioma_tumor").glob("*.jpg"))[:10],
        *sorted((shared_data_dir / "Testing" / "no_tumor").glob("*.jpg"))[:10],
    ]
    return np.stack([load_rgb(file.read_bytes(), (SIZE, SIZE)) for file in files])


def small_model() -> keras.Model:
    """BatchNormalization first (so that its statistics are the images'), inside a
    frozen nested model as ResNet-50 is, then a softmax head."""
    keras.utils.set_random_seed(0)
    base = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            keras.layers.BatchNormalization(name="bn_input"),
            keras.layers.Conv2D(6, 3, name="conv"),
            keras.layers.BatchNormalization(name="bn_conv"),
        ],
        name="base",
    )
    base.trainable = False
    inputs = keras.Input((SIZE, SIZE, 3))
    features = keras.layers.GlobalAveragePooling2D()(base(inputs))
    outputs = keras.layers.Dense(4, activation="softmax", name="head")(features)
    return keras.Model(inputs, outputs)


def weights_by_path(model: keras.Model) -> dict[str, np.ndarray]:
    return {weight.path: np.asarray(weight) for weight in model.weights}


def test_adabn_statistics_are_the_folders_batch_statistics(slices: np.ndarray):
    """With one batch, the first layer's moving mean and variance are the images'
    per-channel mean and (biased) variance, to float32's precision (Keras computes
    the variance as a float32 mean of squares)."""
    model = small_model()
    adapted = adapt_batch_norm(model, slices, batch_size=len(slices))
    statistics = batch_norm_statistics(adapted)["base/bn_input"]
    pixels = slices.astype(np.float64).reshape(-1, 3)
    np.testing.assert_allclose(statistics["moving_mean"], pixels.mean(0), rtol=1e-6)
    np.testing.assert_allclose(statistics["moving_variance"], pixels.var(0), rtol=1e-4)


def test_adabn_leaves_the_model_it_was_given_unchanged(slices: np.ndarray):
    model = small_model()
    before = weights_by_path(model)
    adapt_batch_norm(model, slices, batch_size=8)
    for path, value in weights_by_path(model).items():
        np.testing.assert_array_equal(value, before[path], err_msg=path)


def test_tent_changes_only_the_batch_norm_scale_and_shift(slices: np.ndarray):
    model = adapt_batch_norm(small_model(), slices, batch_size=8)
    before = weights_by_path(model)
    adapted, losses = tent_adapt(model, slices, **TENT, seed=0)
    assert len(losses) == TENT["steps"]
    after = weights_by_path(adapted)
    assert after.keys() == before.keys()
    changed = {path for path in before if not np.array_equal(before[path], after[path])}
    assert changed == {
        "bn_input/gamma",
        "bn_input/beta",
        "bn_conv/gamma",
        "bn_conv/beta",
    }
    for path, value in weights_by_path(model).items():
        np.testing.assert_array_equal(value, before[path], err_msg=path)


def test_tent_is_seeded(slices: np.ndarray):
    model = adapt_batch_norm(small_model(), slices, batch_size=8)
    first, losses = tent_adapt(model, slices, **TENT, seed=1)
    again, losses_again = tent_adapt(model, slices, **TENT, seed=1)
    other, losses_other = tent_adapt(model, slices, **TENT, seed=2)
    assert losses == losses_again
    assert losses != losses_other
    np.testing.assert_array_equal(first.get_weights()[0], again.get_weights()[0])


def test_tent_loss_rewards_confident_and_diverse_predictions():
    uniform = np.full((4, 4), 0.25, np.float32)
    collapsed = np.tile([[0.97, 0.01, 0.01, 0.01]], (4, 1)).astype(np.float32)
    diverse = np.stack([np.roll(collapsed[0], i) for i in range(4)])
    log4 = np.log(4)
    assert float(tent_loss(uniform, 0.0)) == pytest.approx(log4, rel=1e-5)
    assert float(tent_loss(uniform, 1.0)) == pytest.approx(0.0, abs=1e-5)
    # Same per-image entropy; only the diverse batch's mean prediction is uniform.
    assert float(tent_loss(collapsed, 0.0)) == pytest.approx(
        float(tent_loss(diverse, 0.0)), rel=1e-5
    )
    assert float(tent_loss(diverse, 1.0)) < float(tent_loss(collapsed, 1.0))
    assert float(tent_loss(diverse, 1.0)) == pytest.approx(
        float(tent_loss(diverse, 0.0)) - log4, rel=1e-4
    )


def test_shift_reports_each_layers_change_and_its_summary(slices: np.ndarray):
    model = small_model()
    adapted = adapt_batch_norm(model, slices, batch_size=8)
    shift = batch_norm_shift(
        batch_norm_statistics(model), batch_norm_statistics(adapted)
    )
    assert set(shift) == {"base/bn_input", "base/bn_conv"}
    assert shift["base/bn_input"]["moving_mean"] > 1
    assert shift["base/bn_input"]["gamma"] == 0
    summary = summarise_shift(shift)
    assert summary["moving_mean_max"] == max(
        layer["moving_mean"] for layer in shift.values()
    )
    assert summary["gamma_mean"] == 0


def test_adabn_sets_batch_norm_statistics_to_the_new_images() -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 3)),
            keras.layers.BatchNormalization(),
            keras.layers.Conv2D(4, 3),
            keras.layers.BatchNormalization(),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    before = [w.copy() for w in model.get_weights()]
    images = np.random.default_rng(0).uniform(100, 200, (40, 6, 6, 3))
    adapted = adapt_batch_norm(model, images, batch_size=10)
    first = adapted.layers[0]
    batches = np.split(images, 4)
    np.testing.assert_allclose(
        first.moving_mean.numpy(),
        np.mean([b.mean(axis=(0, 1, 2)) for b in batches], axis=0),
        rtol=1e-4,
    )
    np.testing.assert_allclose(
        first.moving_variance.numpy(),
        np.mean([b.var(axis=(0, 1, 2)) for b in batches], axis=0),
        rtol=1e-3,
    )
    for original, kept in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(original, kept)
    np.testing.assert_array_equal(
        adapted.layers[2].get_weights()[0], model.layers[2].get_weights()[0]
    )
    assert first.momentum == model.layers[0].momentum
