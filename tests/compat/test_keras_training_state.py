"""The undocumented state of Keras' stateful callbacks and random layers that the
training checkpoint saves and restores (no public API; keras-team/keras#19796)."""

from __future__ import annotations

import keras
import numpy as np

from brain_tumor_mri.compat.keras_training_state import (
    CALLBACK_STATE,
    best_weights,
    callback_state,
    keeps_best_weights,
    seed_generator_states,
    set_best_weights,
    set_callback_state,
)


def small_model() -> keras.Model:
    inputs = keras.Input((4,))
    x = keras.layers.Dropout(0.5, seed=1)(inputs)
    x = keras.layers.Dropout(0.5, seed=2)(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def fit(model: keras.Model, callbacks: list, epochs: int) -> dict[str, list]:
    data = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    labels = np.eye(2)[np.arange(16) % 2]
    return model.fit(
        data,
        labels,
        validation_data=(data, labels),
        epochs=epochs,
        callbacks=callbacks,
        verbose=0,
    ).history


def test_stateful_callbacks_keep_their_state_in_these_attributes():
    model = small_model()
    stopping = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=5, restore_best_weights=True
    )
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=1)
    fit(model, [stopping, plateau], epochs=2)
    assert set(callback_state(stopping)) == {
        "wait",
        "best",
        "best_epoch",
        "stopped_epoch",
    }
    assert set(callback_state(plateau)) == {"wait", "best", "cooldown_counter"}
    assert set(callback_state(stopping)) | set(callback_state(plateau)) == set(
        CALLBACK_STATE
    )
    assert keeps_best_weights(stopping)
    assert not keeps_best_weights(plateau)
    best = best_weights(stopping, stopping.best_epoch)
    assert best is not None
    assert [w.shape for w in best] == [w.shape for w in model.get_weights()]
    assert best_weights(stopping, stopping.best_epoch + 1) is None


def test_restored_state_survives_on_train_begin_when_set_after_it():
    """EarlyStopping resets its state as training begins; what is set afterwards,
    as the checkpoint callback does, is what it goes on from."""
    model = small_model()
    stopping = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=1, restore_best_weights=True
    )
    saved = {"wait": 1, "best": -1.0, "best_epoch": 0, "stopped_epoch": 0}

    class Restore(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            set_callback_state(stopping, saved)
            set_best_weights(stopping, model.get_weights())

    history = fit(model, [stopping, Restore()], epochs=5)
    # No loss beats the restored best of -1: patience 1 ends the run as soon as
    # EarlyStopping may stop (after its second epoch), not after 5.
    assert len(history["loss"]) == 2
    assert stopping.stopped_epoch == 1
    assert stopping.best == -1.0


def test_random_layers_keep_their_rng_state_in_named_variables():
    model = small_model()
    states = seed_generator_states(model)
    assert len(states) == 2
    before = [keras.ops.convert_to_numpy(v).copy() for v in states]
    fit(model, [], epochs=1)
    after = [keras.ops.convert_to_numpy(v) for v in seed_generator_states(model)]
    assert not any(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
