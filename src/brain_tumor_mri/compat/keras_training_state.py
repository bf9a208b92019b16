"""Training state that Keras keeps but does not save: the counters of the stateful
callbacks and the RNG state of the random layers.

Resuming an interrupted run exactly needs both. Keras has no public API for either:
callbacks have no ``get_config`` or state methods, and ``BackupAndRestore`` saves
the model, the optimizer and the epoch only; ``model.save`` does not keep the RNG
state of ``Dropout`` (keras-team/keras#19796). So the checkpoint reads and sets the
undocumented attributes below; tests/compat/test_keras_training_state.py fails when
they change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

# Attributes of EarlyStopping and ReduceLROnPlateau that carry over between epochs.
CALLBACK_STATE = ("wait", "best", "best_epoch", "stopped_epoch", "cooldown_counter")
# The name Keras gives the state variable of a layer's SeedGenerator.
SEED_STATE_SUFFIX = "seed_generator_state"


def callback_state(callback: keras.callbacks.Callback) -> dict[str, Any]:
    """The values of ``CALLBACK_STATE`` that ``callback`` has, and of the attributes a
    project callback names in its ``extra_state``.

    No public API (see the module); pinned by
    tests/compat/test_keras_training_state.py.
    """
    keys = (*CALLBACK_STATE, *getattr(callback, "extra_state", ()))
    return {key: getattr(callback, key) for key in keys if hasattr(callback, key)}


def set_callback_state(
    callback: keras.callbacks.Callback, state: Mapping[str, Any]
) -> None:
    """Set what ``callback_state`` read back on a callback (after its
    ``on_train_begin`` reset it). No public API; pinned as ``callback_state``."""
    for key, value in state.items():
        setattr(callback, key, value)


def keeps_best_weights(callback: keras.callbacks.Callback) -> bool:
    """Whether the callback keeps its best epoch's weights (EarlyStopping's
    ``restore_best_weights``). No public API; pinned as ``callback_state``."""
    return bool(getattr(callback, "restore_best_weights", False))


def best_weights(
    callback: keras.callbacks.Callback, epoch: int
) -> list[np.ndarray] | None:
    """The weights the callback kept if ``epoch`` (from 0) was its best, else None.

    EarlyStopping's undocumented ``best_weights`` and ``best_epoch``; pinned as
    ``callback_state``.
    """
    weights = getattr(callback, "best_weights", None)
    if weights is not None and getattr(callback, "best_epoch", None) == epoch:
        return weights
    return None


def set_best_weights(
    callback: keras.callbacks.Callback, weights: list[np.ndarray] | None
) -> None:
    """Give EarlyStopping back the best weights a checkpoint saved; pinned as
    ``callback_state``."""
    callback.best_weights = weights


def seed_generator_states(model: keras.Model) -> list[keras.Variable]:
    """The RNG states of the model's random layers (Dropout), in layer order.

    ``model.save`` does not keep them (keras-team/keras#19796); they are found by
    the variable name Keras' ``SeedGenerator`` gives them. Pinned by
    tests/compat/test_keras_training_state.py.
    """
    return [v for v in model.variables if v.path.endswith(SEED_STATE_SUFFIX)]
