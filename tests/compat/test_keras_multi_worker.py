"""The private names of Keras' TensorFlow trainer that the multi-worker patches replace
(keras-team/keras#20585) exist, with the signatures the replacements take."""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.backend.tensorflow import trainer as keras_tf_trainer

from brain_tumor_mri.compat.keras_multi_worker import (
    PATCHED,
    build_from_a_local_batch,
    no_collective_all_reduce,
    replacements,
)


def parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)


@pytest.mark.parametrize(("owner", "name"), PATCHED)
def test_the_patched_names_exist(owner: object, name: str):
    assert callable(getattr(owner, name))


def test_the_replacements_take_what_keras_passes():
    trainer = keras_tf_trainer.TensorFlowTrainer
    assert parameters(trainer._maybe_symbolic_build) == parameters(
        build_from_a_local_batch
    )
    assert parameters(
        keras_tf_trainer._collective_all_reduce_multi_worker
    ) == parameters(no_collective_all_reduce)
    # What the replacement calls, and the iterator's (begin, end, batches) triples.
    assert "data_batch" in parameters(trainer._symbolic_build)
    assert "_maybe_symbolic_build(iterator=epoch_iterator)" in inspect.getsource(
        trainer.fit
    )
    assert "for _, _, it in iterator" in inspect.getsource(
        trainer._maybe_symbolic_build
    )


def test_a_patched_trainer_still_fits_under_one_device(
    monkeypatch: pytest.MonkeyPatch,
):
    """Under a strategy with one replica the patched ``fit`` trains as Keras' own."""
    for owner, name, replacement in replacements():
        monkeypatch.setattr(owner, name, replacement)
    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        inputs = keras.Input((4,))
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
        model.compile(optimizer="adam", loss="categorical_crossentropy")
    data = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    history = model.fit(data, np.eye(2)[np.arange(16) % 2], epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
