"""The Keras callbacks of a training run, and the JSON history writer they include."""

from __future__ import annotations

import time
from pathlib import Path

from kerasbert.common.files import read_json, write_json
from kerasbert.data.remote import sync_to_remote
from kerasbert.training.rundir import RunDir
from kerasbert.training.tfkeras import keras, tf

# The variable in which tf-keras' BackupAndRestore checkpoint keeps the last saved epoch's index.
SAVED_EPOCH = "ckpt_saved_epoch/.ATTRIBUTES/VARIABLE_VALUE"


def make_callbacks(
    run: RunDir | Path, early_stopping_patience: int, remote: str | None = None, completed: int = 0
) -> list:
    """Early stopping, best checkpoint, resume backup, TensorBoard, JSON history, NaN guard, and
    with `remote` (e.g. gs://bucket/run) a copy of the run directory kept there every epoch.

    `completed`: epochs a resumed run already finished (`completed_epochs`). The best-checkpoint
    and early-stopping callbacks then start from those epochs' validation losses, as in the run
    before the kill: otherwise the first resumed epoch would count as an improvement and could
    overwrite a better checkpoint, and patience would start over.
    """
    run = run if isinstance(run, RunDir) else RunDir(run)
    past = past_validation_losses(run.history, completed)
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.ModelCheckpoint(
            str(run.best_weights),
            monitor="val_loss",
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=min(past) if past else None,
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
        callbacks.append(ResumableEarlyStopping(past, patience=early_stopping_patience))
    return callbacks


def completed_epochs(backup_dir: Path) -> int:
    """How many epochs the `BackupAndRestore` directory `backup_dir` holds (0 without one)."""
    for index in sorted(Path(backup_dir).rglob("checkpoint")):
        latest = tf.train.latest_checkpoint(str(index.parent))
        if latest:
            # BackupAndRestore records the index of the last epoch it saved.
            return int(tf.train.load_variable(latest, SAVED_EPOCH)) + 1
    return 0


def past_validation_losses(history_path: Path, completed: int) -> list[float]:
    """The validation losses of the first `completed` epochs in a run's `history.json`."""
    if not completed or not history_path.exists():
        return []
    history = read_json(history_path)
    return [
        loss
        for epoch, loss in zip(history["epoch"], history.get("val_loss", []))
        if epoch <= completed and loss is not None
    ]


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """`EarlyStopping` on validation loss (best weights restored) that, in a resumed run, first
    replays the validation losses of the epochs done before the restart."""

    def __init__(self, past_losses: list[float], patience: int):
        super().__init__(monitor="val_loss", patience=patience, restore_best_weights=True)
        self.past_losses = list(past_losses)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        for epoch, loss in enumerate(self.past_losses):
            if self._is_improvement(loss, self.best):
                self.best, self.best_epoch, self.wait = loss, epoch, 0
            else:
                self.wait += 1


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
