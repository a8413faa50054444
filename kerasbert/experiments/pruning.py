"""`PruningCallback`: report each epoch's objective to an Optuna trial, stop it when pruned.

Optuna's own TF-Keras integration targets Keras 3; this is the few lines kerasbert needs for
tf-keras. It stops training rather than raising inside `fit`, so a pruned trial still finishes as
a run directory (kept weights saved, training state removed); the sweep then marks it pruned.
"""

from __future__ import annotations

import math

from kerasbert.training.recipe import PREDICTED_METRICS
from kerasbert.training.tfkeras import keras


class PruningCallback(keras.callbacks.Callback):
    """Report `monitor` after every epoch as the trial's intermediate value at that epoch.

    Args:
        trial: the `optuna.Trial` being run.
        monitor: the Keras log to report, the sweep's objective; None for the F1 the run adds
            itself (`val_macro_f1` or `val_micro_f1`, whichever the epoch's logs hold).

    A diverged epoch (a NaN or infinite loss) is reported as NaN, which Optuna's pruners prune,
    whatever the monitor: the F1 of a diverged model is a finite number that says nothing.
    """

    def __init__(self, trial, monitor: str | None = "val_loss") -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        keys = (self.monitor,) if self.monitor else PREDICTED_METRICS
        value = next((logs[key] for key in keys if key in logs), None)
        losses = [logs.get(key) for key in ("loss", "val_loss")]
        diverged = any(loss is not None and not math.isfinite(loss) for loss in losses)
        if value is None or diverged or not math.isfinite(value):
            value = math.nan
        self.trial.report(float(value), step=epoch + 1)
        if self.trial.should_prune():
            self.pruned_at = epoch + 1
            self.model.stop_training = True
