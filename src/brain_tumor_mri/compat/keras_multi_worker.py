"""Keras 3's ``fit`` under ``MultiWorkerMirroredStrategy``: two patches of its
TensorFlow trainer (keras-team/keras#20585)."""

from __future__ import annotations

from typing import Any

import keras
from keras.src.backend.tensorflow import trainer as keras_tf_trainer

# The names patched: (owner, attribute). tests/compat/test_keras_multi_worker.py
# checks that they exist, with the signatures the replacements take.
PATCHED = (
    (keras_tf_trainer.TensorFlowTrainer, "_maybe_symbolic_build"),
    (keras_tf_trainer, "_collective_all_reduce_multi_worker"),
)


def build_from_a_local_batch(
    self: keras.Model, iterator: Any = None, data_batch: Any = None
) -> None:
    """Keras' ``_maybe_symbolic_build``, but built from this worker's part of a batch.

    Replaces ``TensorFlowTrainer._maybe_symbolic_build`` (keras-team/keras#20585);
    pinned by tests/compat/test_keras_multi_worker.py.
    """
    if iterator is not None:
        for _, _, batches in iterator:
            data_batch = keras.tree.map_structure(
                lambda value: self.distribute_strategy.experimental_local_results(
                    value
                )[0],
                next(batches),
            )
            break
    with self.distribute_strategy.scope():
        self._symbolic_build(data_batch=data_batch)


def no_collective_all_reduce(strategy: Any) -> bool:
    """Replaces ``_collective_all_reduce_multi_worker``: logs are reduced over this
    worker's replicas only (keras-team/keras#20585); pinned by
    tests/compat/test_keras_multi_worker.py."""
    return False


def replacements() -> tuple[tuple[Any, str, Any], ...]:
    """(owner, attribute, replacement) of each patch, for applying or for a test."""
    functions = (build_from_a_local_batch, no_collective_all_reduce)
    return tuple(
        (owner, name, function)
        for (owner, name), function in zip(PATCHED, functions, strict=True)
    )


def let_keras_fit_under_multi_worker() -> None:
    """Work around Keras 3's ``fit`` under MultiWorkerMirroredStrategy (private API).

    Keras 3.15's TensorFlow trainer fails there (keras-team/keras#20585, also
    TensorFlow's own multi-worker tutorial): it reduces the first batch, a tuple, with
    ``strategy.reduce`` to build the model, and each step's scalar logs with
    ``strategy.reduce(..., axis=0)``. Here the model is built from this worker's part
    of the batch, and logs are reduced over this worker's replicas only: the metric
    variables are mirrored with ``sum`` aggregation, so they already hold the totals
    of every worker, and each worker reports the same values. The patched names are
    pinned by tests/compat/test_keras_multi_worker.py; the whole workaround by
    tests/framework/test_multi_worker.py (two real workers).
    """
    for owner, name, replacement in replacements():
        setattr(owner, name, replacement)
