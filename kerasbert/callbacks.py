"""The Keras callbacks of a training run, and the JSON history writer they include."""

from __future__ import annotations

import time
from pathlib import Path

from kerasbert.files import read_json, sync_to_remote, write_json
from kerasbert.model import keras


def make_callbacks(run_dir: Path, early_stopping_patience: int, remote: str | None = None) -> list:
    """Early stopping, best checkpoint, resume backup, TensorBoard, JSON history, NaN guard, and
    with `remote` (e.g. gs://bucket/run) a copy of the run directory kept there every epoch."""
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        # Saves the whole training state each epoch; a killed run restarted into the same
        # directory continues from the last completed epoch.
        keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        keras.callbacks.ModelCheckpoint(
            str(run_dir / "checkpoints" / "best.weights.h5"),
            monitor="val_loss",
            save_best_only=True,
            save_weights_only=True,
        ),
        keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False),
        JsonHistory(run_dir / "history.json"),
    ]
    if remote:
        callbacks.append(RemoteSync(run_dir, remote))
    if early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=early_stopping_patience, restore_best_weights=True
            )
        )
    return callbacks


class JsonHistory(keras.callbacks.Callback):
    """Write the per-epoch history to JSON after every epoch, keeping earlier epochs on resume.

    The file maps each metric to a list aligned with `epoch` (1-based), plus the epoch's wall time
    and the learning rate at its end.
    """

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self.epoch_start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        history = read_json(self.path) if self.path.exists() else {"epoch": []}
        # A resumed run repeats no epoch, but a run killed mid-epoch may have written nothing for
        # it; keep only the epochs before this one.
        keep = [i for i, number in enumerate(history["epoch"]) if number <= epoch]
        history = {key: [values[i] for i in keep] for key, values in history.items()}
        record = {key: float(value) for key, value in (logs or {}).items()}
        record["epoch_seconds"] = time.perf_counter() - self.epoch_start
        optimizer = self.model.optimizer
        rate = optimizer.learning_rate
        # get_value: under a distribution strategy the rate is a MirroredVariable, not a float.
        record["learning_rate"] = float(
            keras.backend.get_value(rate(optimizer.iterations) if callable(rate) else rate)
        )
        history["epoch"].append(epoch + 1)
        for key, value in record.items():
            history.setdefault(key, [None] * (len(history["epoch"]) - 1)).append(value)
        write_json(self.path, history)


class RemoteSync(keras.callbacks.Callback):
    """Upload what changed in the local run directory to its remote copy after every epoch, so a
    preempted machine loses at most one epoch (the backup, checkpoints and logs are all there)."""

    def __init__(self, run_dir: Path, remote: str):
        super().__init__()
        self.run_dir = run_dir
        self.remote = remote
        self.uploaded: dict[str, tuple] = {}

    def on_epoch_end(self, epoch, logs=None):
        sync_to_remote(self.run_dir, self.remote, self.uploaded)
