"""The Keras callbacks of a training run, and the JSON history writer they include."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from kerasbert.common.files import read_json, write_json
from kerasbert.data.remote import sync_to_remote
from kerasbert.training import pipeline
from kerasbert.training.recipe import metric_mode
from kerasbert.training.rundir import RunDir
from kerasbert.training.tfkeras import keras, tf

# The variable in which tf-keras' BackupAndRestore checkpoint keeps the last saved epoch's index.
SAVED_EPOCH = "ckpt_saved_epoch/.ATTRIBUTES/VARIABLE_VALUE"


def make_callbacks(
    run: RunDir | Path,
    early_stopping_patience: int,
    remote: str | None = None,
    completed: int = 0,
    monitor: str = "val_loss",
    score: keras.callbacks.Callback | None = None,
) -> list:
    """Early stopping, best checkpoint, resume backup, TensorBoard, JSON history, NaN guard, and
    with `remote` (e.g. gs://bucket/run) a copy of the run directory kept there every epoch.

    `monitor` (a key of the epoch's logs: `val_loss`, `val_accuracy`, or one `score` adds, such
    as a `ValidationScore`'s) picks the checkpoint kept and stops training; `score` runs first,
    so its key is in the logs the others read. Ties keep the earlier epoch.
    `completed`: epochs a resumed run already finished (`completed_epochs`). The best-checkpoint
    and early-stopping callbacks then start from those epochs' values, as in the run before the
    kill: otherwise the first resumed epoch would count as an improvement and could overwrite a
    better checkpoint, and patience would start over.
    """
    run = run if isinstance(run, RunDir) else RunDir(run)
    past = past_monitor_values(run.history, completed, monitor)
    best = min if metric_mode(monitor) == "min" else max
    callbacks = [
        *([score] if score is not None else []),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.ModelCheckpoint(
            str(run.best_weights),
            monitor=monitor,
            mode=metric_mode(monitor),
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=best(past) if past else None,
        ),
        keras.callbacks.TensorBoard(str(run.logs), write_graph=False),
        JsonHistory(run.history),
        # Saves the whole training state each epoch; a killed run restarted into the same
        # directory continues from the last completed epoch. It saves after the files above: a
        # kill between them makes the restart redo that epoch and rewrite them, never skip one.
        keras.callbacks.BackupAndRestore(str(run.backup)),
    ]
    if remote:
        callbacks.append(RemoteSync(run.path, remote))
    if early_stopping_patience:
        callbacks.append(
            ResumableEarlyStopping(past, patience=early_stopping_patience, monitor=monitor)
        )
    return callbacks


def completed_epochs(backup_dir: Path) -> int:
    """How many epochs the `BackupAndRestore` directory `backup_dir` holds (0 without one)."""
    for index in sorted(Path(backup_dir).rglob("checkpoint")):
        latest = tf.train.latest_checkpoint(str(index.parent))
        if latest:
            # BackupAndRestore records the index of the last epoch it saved.
            return int(tf.train.load_variable(latest, SAVED_EPOCH)) + 1
    return 0


def past_monitor_values(
    history_path: Path, completed: int, monitor: str = "val_loss"
) -> list[float]:
    """The `monitor` values of the first `completed` epochs in a run's `history.json`."""
    if not completed or not history_path.exists():
        return []
    history = read_json(history_path)
    return [
        value
        for epoch, value in zip(history["epoch"], history.get(monitor, []))
        if epoch <= completed and value is not None
    ]


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """`EarlyStopping` on `monitor` (best weights restored) that, in a resumed run, first
    replays the values of the epochs done before the restart."""

    def __init__(self, past_values: list[float], patience: int, monitor: str = "val_loss"):
        super().__init__(
            monitor=monitor,
            mode=metric_mode(monitor),
            patience=patience,
            restore_best_weights=True,
        )
        self.past_values = list(past_values)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        for epoch, value in enumerate(self.past_values):
            if self._is_improvement(value, self.best):
                self.best, self.best_epoch, self.wait = value, epoch, 0
            else:
                self.wait += 1


class ValidationScore(keras.callbacks.Callback):
    """Add the validation split's macro-F1 (`val_macro_f1`) or micro-F1 (`val_micro_f1`) to each
    epoch's logs, from the model's predictions, for the checkpoint and early stopping to read.

    Single-label: the predicted class is the largest logit; multi-label: every label whose logit
    is above 0 (probability 0.5). `label_ids`: class ids, or a 0/1 matrix for multi-label (soft
    targets are read by their largest class / at 0.5). One forward pass over the validation
    split per epoch, length-sorted: a fraction of an epoch's training compute.
    """

    def __init__(self, encoded: pipeline.Encoded, label_ids: np.ndarray, name: str):
        super().__init__()
        if name not in ("val_macro_f1", "val_micro_f1"):
            raise ValueError(f"ValidationScore computes val_macro_f1 or val_micro_f1, not {name}.")
        self.encoded = encoded
        self.label_ids = np.asarray(label_ids)
        self.name = name

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or not len(self.label_ids):
            return
        logits = pipeline.predict_logits(self.model, self.encoded)
        logs[self.name] = validation_f1(logits, self.label_ids, self.name)


def validation_f1(logits: np.ndarray, label_ids: np.ndarray, name: str) -> float:
    """Macro-F1 (`val_macro_f1`) or micro-F1 (`val_micro_f1`) of `logits` against `label_ids`:
    class ids, a 0/1 label matrix (multi-label), or soft targets (their largest class)."""
    from sklearn.metrics import f1_score

    logits = np.asarray(logits, dtype=np.float64)
    if not np.all(np.isfinite(logits)):
        return math.nan
    average = "macro" if name == "val_macro_f1" else "micro"
    multi_label = label_ids.ndim == 2 and set(np.unique(label_ids)) <= {0, 1}
    if multi_label:
        truth, predicted = label_ids.astype(int), (logits > 0).astype(int)
    else:
        truth = label_ids.argmax(axis=1) if label_ids.ndim == 2 else label_ids.astype(int)
        predicted = logits.argmax(axis=1)
    return float(f1_score(truth, predicted, average=average, zero_division=0))


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
