"""The callbacks of a resumed run start from the epochs finished before the restart."""

from __future__ import annotations

import json

from kerasbert.training.callbacks import (
    ResumableEarlyStopping,
    make_callbacks,
    past_monitor_values,
)
from kerasbert.training.tfkeras import keras


def _write_history(run_dir, val_losses) -> None:
    history = {"epoch": list(range(1, len(val_losses) + 1)), "val_loss": val_losses}
    (run_dir / "history.json").write_text(json.dumps(history))


def test_past_losses_stop_at_the_backed_up_epoch(tmp_path) -> None:
    # The history can hold one epoch more than the backup: that epoch is redone.
    _write_history(tmp_path, [0.9, 0.5, 0.7, 0.6])
    assert past_monitor_values(tmp_path / "history.json", 3) == [0.9, 0.5, 0.7]
    assert past_monitor_values(tmp_path / "history.json", 0) == []
    assert past_monitor_values(tmp_path / "missing.json", 2) == []


def test_resumed_checkpoint_only_saves_a_better_epoch(tmp_path) -> None:
    _write_history(tmp_path, [0.9, 0.5, 0.7])
    callbacks = make_callbacks(tmp_path, early_stopping_patience=2, completed=3)
    checkpoint = next(c for c in callbacks if isinstance(c, keras.callbacks.ModelCheckpoint))
    assert checkpoint.best == 0.5  # a resumed epoch at val_loss 0.6 must not replace epoch 2
    fresh = make_callbacks(tmp_path / "new", early_stopping_patience=2)
    assert not any(isinstance(c, keras.callbacks.ModelCheckpoint) and c.best < 1e9 for c in fresh)


def test_resumed_early_stopping_keeps_counting_patience() -> None:
    stopper = ResumableEarlyStopping([0.9, 0.5, 0.7], patience=2)
    stopper.set_model(keras.Sequential([keras.layers.Dense(1, input_shape=(2,))]))
    stopper.on_train_begin()
    assert (stopper.best, stopper.best_epoch, stopper.wait) == (0.5, 1, 1)
    stopper.on_epoch_end(3, {"val_loss": 0.8})  # second epoch without improvement
    assert stopper.model.stop_training
