"""A checkpoint after every epoch, so that an interrupted training resumes where it stopped.

A checkpoint folder holds the last finished epoch of one run: the compiled model
(weights and optimizer state, ``epoch-NNNN-phase-P.keras``), ``state.json`` (epoch,
phase, history, the state of EarlyStopping and ReduceLROnPlateau and the RNG state of
the dropout layers) and, when EarlyStopping keeps the best weights,
``best_weights.npz``. Files are written first and then named by an atomic rename, so a
run killed at any moment leaves a consistent checkpoint. With the stateless input
pipeline (see ``tf_data``), a resumed run continues exactly as an uninterrupted
one would have.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from brain_tumor_mri.compat.keras_training_state import (
    best_weights,
    callback_state,
    keeps_best_weights,
    seed_generator_states,
    set_best_weights,
    set_callback_state,
)

STATE_FILE = "state.json"
BEST_WEIGHTS_FILE = "best_weights.npz"


@dataclass
class CheckpointState:
    """Where a training run stands after its last finished epoch."""

    epoch: int = 0
    phase: int = 0
    phase_finished: bool = False
    stopped: bool = False
    history: dict[str, list] = field(default_factory=dict)
    callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    seed_states: list[list[int]] = field(default_factory=list)
    model_file: str = ""


def run_fingerprint(
    model: keras.Model, caches: Iterable[Mapping[str, np.ndarray]], settings: Any
) -> str:
    """A short hash of everything that defines a run: model, weights, data and settings."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(model.to_json().encode())
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    for cache in caches:
        digest.update(repr(cache["images"].shape).encode())
        # A sample of pixels, so that a cache made with other image preprocessing
        # (crop, intensity normalisation) never resumes this run's checkpoint.
        digest.update(np.ascontiguousarray(cache["images"][:16]).tobytes())
        digest.update(np.ascontiguousarray(cache["labels"]).tobytes())
        digest.update("\n".join(map(str, cache["paths"])).encode())
    return digest.hexdigest()[:16]


def weights_digest(model: keras.Model) -> str:
    """A short hash of the model's weights: equal digests, equal weights."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:16]


def restore_seed_states(model: keras.Model, states: list[list[int]]) -> None:
    """Set the model's random layers back to the RNG states a checkpoint saved.

    ``model.save`` does not keep them; the checkpoint does, so that a resumed run
    draws the same dropout masks as an uninterrupted one.
    """
    for variable, value in zip(seed_generator_states(model), states, strict=True):
        variable.assign(np.asarray(value, dtype=variable.dtype))


def _replace_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


class TrainingCheckpoint:
    """The checkpoint folder of one run; ``writable=False`` (non-chief workers) saves nothing."""

    def __init__(self, directory: str | Path, writable: bool = True) -> None:
        self.directory = Path(directory)
        self.writable = writable

    def load_state(self) -> CheckpointState | None:
        """The state of the last finished epoch, or None if there is no checkpoint."""
        path = self.directory / STATE_FILE
        if not path.is_file():
            return None
        return CheckpointState(**json.loads(path.read_text()))

    def load_model(self, state: CheckpointState) -> keras.Model:
        """The compiled model of the checkpoint, with its optimizer and RNG states."""
        model = keras.models.load_model(
            self.directory / state.model_file, safe_mode=True
        )
        restore_seed_states(model, state.seed_states)
        return model

    def load_best_weights(self) -> list[np.ndarray] | None:
        path = self.directory / BEST_WEIGHTS_FILE
        if not path.is_file():
            return None
        with np.load(path) as arrays:
            return [arrays[f"arr_{index}"] for index in range(len(arrays.files))]

    def save(self, model: keras.Model, state: CheckpointState) -> None:
        """Save the model, then the state that points to it; drop older model files."""
        if not self.writable:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        state.model_file = f"epoch-{state.epoch:04d}-phase-{state.phase}.keras"
        tmp = self.directory / f"tmp-{state.model_file}"
        model.save(tmp)
        os.replace(tmp, self.directory / state.model_file)
        _replace_json(self.directory / STATE_FILE, state.__dict__)
        for old in self.directory.glob("epoch-*.keras"):
            if old.name != state.model_file:
                old.unlink()

    def save_best_weights(self, weights: list[np.ndarray]) -> None:
        if not self.writable:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / "tmp-best_weights.npz"
        np.savez(tmp, *weights)
        os.replace(tmp, self.directory / BEST_WEIGHTS_FILE)

    def clear(self) -> None:
        """Delete the checkpoint (a finished run, or a run asked to start afresh)."""
        if self.writable:
            shutil.rmtree(self.directory, ignore_errors=True)


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, np.generic | np.ndarray) else value


class EpochCheckpoint(keras.callbacks.Callback):
    """Records the history and saves a checkpoint after every epoch and at the phase end.

    The history's ``kept_epoch`` is, after each epoch, the epoch whose weights the
    model would have if training ended there (``kept_epoch`` of the state).

    Put it after the callbacks whose state it saves (``stateful``, by name): it reads
    their state after they have updated it, and, when resuming, sets it back after
    their ``on_train_begin`` has reset it.
    """

    def __init__(
        self,
        checkpoint: TrainingCheckpoint,
        state: CheckpointState,
        stateful: Mapping[str, keras.callbacks.Callback],
        kept_epoch: Callable[[CheckpointState], int],
        resume: bool = False,
    ) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.state = state
        self.stateful = dict(stateful)
        self.kept_epoch = kept_epoch
        self.resume = resume
        self._learning_rate = float("nan")

    def on_train_begin(self, logs: dict | None = None) -> None:
        if not self.resume:
            return
        for name, callback in self.stateful.items():
            set_callback_state(callback, self.state.callbacks.get(name, {}))
            if keeps_best_weights(callback):
                set_best_weights(callback, self.checkpoint.load_best_weights())

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._learning_rate = float(
            keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        record = {
            "epoch": epoch + 1,
            **(logs or {}),
            "learning_rate": self._learning_rate,
        }
        for key, value in record.items():
            self.state.history.setdefault(key, []).append(_plain(value))
        self.state.epoch = epoch + 1
        self.state.stopped = bool(self.model.stop_training)
        self.state.seed_states = [
            keras.ops.convert_to_numpy(v).tolist()
            for v in seed_generator_states(self.model)
        ]
        self._save_callbacks(epoch)
        self.state.history.setdefault("kept_epoch", []).append(
            self.kept_epoch(self.state)
        )
        self.checkpoint.save(self.model, self.state)

    def on_train_end(self, logs: dict | None = None) -> None:
        self.state.phase_finished = True
        self.checkpoint.save(self.model, self.state)

    def _save_callbacks(self, epoch: int) -> None:
        self.state.callbacks = {
            name: {
                key: _plain(value) for key, value in callback_state(callback).items()
            }
            for name, callback in self.stateful.items()
        }
        for callback in self.stateful.values():
            best = best_weights(callback, epoch)
            if best is not None:
                self.checkpoint.save_best_weights(best)
