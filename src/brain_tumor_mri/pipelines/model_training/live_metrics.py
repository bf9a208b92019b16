"""Per-epoch training metrics, logged to the active MLflow run as each epoch ends.

Each curve is logged as ``epoch_<Keras name>`` (``epoch_val_accuracy``, as Keras'
TensorBoard callback names them), so that the plain names (``val_accuracy``) hold the
evaluation of the model kept, and the runs table of the MLflow UI compares the kept
models, not the last epochs. ``kept_epoch`` says which epoch that model is.

MLflow's own ``mlflow.keras.MlflowCallback`` does not fit here: it logs at step
``epoch`` counted from 0 (the history counts from 1), adds ``validation_*`` copies of
``val_*`` at the end of every evaluation, logs the optimizer's settings as parameters
at each ``fit`` (one per phase, so the second phase's learning rate clashes with the
first's), misses the learning rate, and knows nothing of a resumed run's epochs.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import mlflow
from mlflow import MlflowClient

EPOCH_PREFIX = "epoch_"


def log_new_epochs(history: Mapping[str, list]) -> None:
    """Log each epoch of ``history`` that the active MLflow run has not logged yet.

    ``history`` holds ``epoch`` (from 1, the step) and one list per metric. Without an
    active run (tracking switched off, a worker that is not the chief) nothing is
    logged. Asking the run what it holds, rather than counting, keeps one point per
    epoch when a resumed training logs again into the run of the interrupted one.
    """
    run = mlflow.active_run()
    metrics = [key for key in history if key != "epoch"]
    if run is None or not metrics:
        return
    client = MlflowClient()
    logged = {
        point.step
        for point in client.get_metric_history(
            run.info.run_id, EPOCH_PREFIX + metrics[0]
        )
    }
    for index, epoch in enumerate(history["epoch"]):
        if epoch not in logged:
            mlflow.log_metrics(
                {
                    EPOCH_PREFIX + key: float(history[key][index])
                    for key in metrics
                    if index < len(history[key])
                },
                step=int(epoch),
                synchronous=True,
            )


def log_kept_epoch(epoch: int) -> None:
    """Log ``kept_epoch``, the epoch whose weights the trained model has, if a run is
    active."""
    if mlflow.active_run() is not None:
        mlflow.log_metric("kept_epoch", epoch, synchronous=True)


class MlflowEpochMetrics(keras.callbacks.Callback):
    """Logs every epoch that ``history`` records to the active MLflow run as it ends.

    Put it after ``EpochCheckpoint``, which records the epoch (learning rate included)
    in ``history`` and saves the checkpoint: an epoch is logged once its checkpoint
    exists, so that a run killed in between logs it on resuming, and never twice.
    """

    def __init__(self, history: Mapping[str, list]) -> None:
        super().__init__()
        self.history = history

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        log_new_epochs(self.history)
