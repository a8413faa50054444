"""`PruningCallback`: report each epoch's validation loss to an Optuna trial, stop it when pruned.

Optuna's own TF-Keras integration targets Keras 3; this is the few lines kerasbert needs for
tf-keras. It stops training rather than raising inside `fit`, so a pruned trial still finishes as
a run directory (best weights saved, backup removed); the sweep then marks it pruned.
"""

from __future__ import annotations

import math

from kerasbert.training.tfkeras import keras


class PruningCallback(keras.callbacks.Callback):
    """Report `monitor` after every epoch as the trial's intermediate value at that epoch.

    Args:
        trial: the `optuna.Trial` being run.
        monitor: the Keras log to report (validation loss: the value early stopping and the best
            checkpoint follow too).

    A diverged epoch (NaN or infinite loss) is reported as NaN, which Optuna's pruners prune.
    """

    def __init__(self, trial, monitor: str = "val_loss") -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        value = math.nan if value is None or not math.isfinite(value) else float(value)
        self.trial.report(value, step=epoch + 1)
        if self.trial.should_prune():
            self.pruned_at = epoch + 1
            self.model.stop_training = True
