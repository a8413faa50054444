"""The default recipe: epochs from the token budget, batch and peak rate by steps per epoch, the
kept epoch and early stopping by the task's validation metric, user flags kept exactly, and a
resumed run on the plan it started with."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import LEARNABLE_SETTINGS, tiny_config
from sklearn.metrics import f1_score

from kerasbert.config import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_LEARNING_RATE,
    MAX_AUTO_EPOCHS,
    MIN_EPOCH_STEPS,
    SMALL_SET_BATCH_SIZE,
    TrainConfig,
    planned_epochs,
)
from kerasbert.training.callbacks import (
    ResumableEarlyStopping,
    make_callbacks,
    past_monitor_values,
    validation_f1,
)
from kerasbert.training.recipe import (
    describe_recipe,
    finish_recipe,
    kept_epoch,
    plan_batch_size,
    plan_recipe,
)
from kerasbert.training.rundir import RunDir
from kerasbert.training.tfkeras import keras


def test_epochs_follow_the_token_budget_within_bounds() -> None:
    config = TrainConfig()
    assert planned_epochs(config, 1489 * 128) == 2  # the default job keeps its two epochs
    assert planned_epochs(config, 60_000 * 20) == 2  # large sets never get more than two
    assert planned_epochs(config, 500 * 9) == MAX_AUTO_EPOCHS
    assert planned_epochs(config, 70_000) == 5  # ceil(350,000 / 70,000)
    assert planned_epochs(TrainConfig(token_budget=140_000), 70_000) == 2
    assert planned_epochs(TrainConfig(epochs=7), 60_000 * 20) == 7
    with pytest.raises(ValueError, match="token-budget"):
        TrainConfig(token_budget=0)
    with pytest.raises(ValueError, match="early-stopping-metric"):
        TrainConfig(early_stopping_metric="f1")


def test_flags_override_the_recipe_exactly_and_are_named_as_the_users() -> None:
    auto = plan_recipe(TrainConfig(), 2_000, 70_000, multi_label=False)
    assert (auto.epochs, auto.metric, auto.learning_rate, auto.warmup_ratio) == (
        5,
        "val_macro_f1",
        8e-5,
        0.1,
    )
    assert (auto.batch_size, auto.steps_per_epoch) == (32, 63)  # ceil(2,000 / 32)
    assert auto.epochs_from.startswith("auto: ceil(token budget 350,000 / 70,000")
    assert auto.batch_size_from == "auto: 63 steps per epoch at batch 32, at least 32"
    assert (auto.learning_rate_from, auto.patience_from) == ("default", "default")
    assert auto.warmup_steps == 31  # int(10% of 5 x 63 steps)
    assert plan_recipe(TrainConfig(), 2_000, 70_000, multi_label=True).metric == "val_micro_f1"

    user = TrainConfig(
        epochs=3,
        batch_size=32,
        learning_rate=3e-5,
        warmup_ratio=0.05,
        early_stopping_patience=1,
        early_stopping_metric="val_loss",
    )
    mine = plan_recipe(user, 640, 70_000, multi_label=False)  # a small set: the rule would halve
    assert (mine.epochs, mine.learning_rate, mine.warmup_ratio, mine.patience, mine.metric) == (
        3,
        3e-5,
        0.05,
        1,
        "val_loss",
    )
    assert (mine.batch_size, mine.steps_per_epoch) == (32, 20)
    assert mine.warmup_steps == 3  # int(0.05 x 60)
    assert mine.epochs_from == "--epochs (yours)"
    assert mine.batch_size_from == "--batch-size (yours)"
    assert mine.learning_rate_from == "--learning-rate (yours)"
    assert mine.warmup_from.startswith("--warmup-ratio (yours)")
    assert mine.patience_from == "--early-stopping-patience (yours)"
    assert mine.metric_from == "--early-stopping-metric (yours)"


def test_the_default_job_and_large_sets_keep_their_recipe() -> None:
    """bbc-news (1,489 training articles at up to 128 tokens: 47 steps at batch 32) trains as
    before the small-set rule; 60,000 short texts get no more epochs and no smaller batch."""
    news = plan_recipe(TrainConfig(), 1_489, 190_572, multi_label=False)
    assert (news.epochs, news.batch_size, news.steps_per_epoch) == (2, 32, 47)
    assert (news.learning_rate, news.warmup_steps, news.patience) == (8e-5, 9, 2)
    assert news.learning_rate_from == "default"
    large = plan_recipe(TrainConfig(), 60_000, 60_000 * 12, multi_label=False)
    assert (large.epochs, large.batch_size, large.learning_rate) == (2, 32, 8e-5)
    # On several replicas the steps count global batches: 4 x 32 per step.
    assert plan_batch_size(TrainConfig(), 3_000, replicas=4)[0] == SMALL_SET_BATCH_SIZE


def test_a_small_set_trains_at_the_small_batch_and_a_linearly_scaled_rate() -> None:
    """Under MIN_EPOCH_STEPS steps per epoch at the default batch: half the batch, half the rate;
    the record says why."""
    edge = DEFAULT_BATCH_SIZE * MIN_EPOCH_STEPS  # 1,024 examples: exactly 32 steps
    assert plan_batch_size(TrainConfig(), edge)[0] == DEFAULT_BATCH_SIZE
    assert plan_batch_size(TrainConfig(), edge - DEFAULT_BATCH_SIZE)[0] == SMALL_SET_BATCH_SIZE
    small = plan_recipe(TrainConfig(), 500, 4_274, multi_label=False)
    assert (small.batch_size, small.steps_per_epoch, small.epochs) == (16, 32, MAX_AUTO_EPOCHS)
    assert small.learning_rate == pytest.approx(DEFAULT_LEARNING_RATE / 2)
    assert small.warmup_steps == 32  # 10% of 10 x 32 steps
    assert small.batch_size_from == (
        "auto: 500 training examples make 16 steps per epoch at batch 32, under 32"
    )
    assert small.learning_rate_from == "auto: 8e-05 × batch 16 / 32"
    line = describe_recipe(small.to_dict())
    assert "batch 16 (auto: 500 training examples make 16 steps" in line
    assert "learning rate 4e-05 (auto: 8e-05 × batch 16 / 32)" in line

    # Each flag overrides exactly, whatever the rule would pick.
    rate = plan_recipe(TrainConfig(learning_rate=8e-5), 500, 4_274, multi_label=False)
    assert (rate.batch_size, rate.learning_rate) == (16, 8e-5)
    assert rate.learning_rate_from == "--learning-rate (yours)"
    batch = plan_recipe(TrainConfig(batch_size=32), 500, 4_274, multi_label=False)
    assert (batch.batch_size, batch.steps_per_epoch, batch.learning_rate) == (32, 16, 8e-5)
    assert batch.learning_rate_from == "default"  # a user's batch keeps the default rate
    assert plan_recipe(TrainConfig(batch_size=8), 500, 4_274, False).learning_rate == 8e-5


def test_a_resumed_recipe_is_read_back_not_recomputed() -> None:
    started = plan_recipe(TrainConfig(), 2_000, 70_000, multi_label=False).to_dict()
    started["epochs"] = 4  # as if the rule had changed since the run started
    started["batch_size"], started["learning_rate"] = 24, 5e-5
    resumed = plan_recipe(TrainConfig(), 500, 10_000, multi_label=False, previous=started)
    assert resumed.to_dict() == {**started, "total_steps": 4 * 63}
    # A record from before the batch was planned: the run trained at its config's batch.
    del started["batch_size"], started["batch_size_from"]
    old = plan_recipe(TrainConfig(batch_size=32), 500, 10_000, multi_label=False, previous=started)
    assert (old.batch_size, old.epochs, old.learning_rate) == (32, 4, 5e-5)


def test_the_ending_is_said_in_words() -> None:
    recipe = plan_recipe(TrainConfig(), 2_000, 70_000, multi_label=False)
    history = {"epoch": [1, 2, 3, 4], "val_macro_f1": [0.7, 0.8, 0.8, 0.75]}
    record = finish_recipe(recipe, history)
    assert (record["epochs_trained"], record["kept_epoch"]) == (4, 2)
    assert record["ended"] == (
        "stopped at 4: validation macro-F1 did not rise for 2 epochs after epoch 2; kept epoch 2"
    )
    assert describe_recipe(record).startswith("epochs: auto → 5 (auto: ceil(")
    assert "stopped at 4" in describe_recipe(record)
    ran = finish_recipe(
        recipe, {"epoch": [1, 2, 3, 4, 5], "val_macro_f1": [0.1, 0.2, 0.3, 0.4, 0.5]}
    )
    assert ran["ended"] == "ran all 5; kept epoch 5"
    pruned = finish_recipe(recipe, {"epoch": [1, 2], "val_macro_f1": [0.1, 0.2]})
    assert pruned["ended"] == "stopped at 2 of 5 by another callback; kept epoch 2"
    assert kept_epoch({"epoch": [1, 2, 3], "val_loss": [0.5, 0.3, 0.4]}, "val_loss") == 2


def test_validation_f1_reads_logits_as_the_decision_rule_does() -> None:
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    truth = np.array([0, 1, 2, 2])
    assert validation_f1(logits, truth, "val_macro_f1") == pytest.approx(
        f1_score(truth, [0, 1, 1, 2], average="macro")
    )
    matrix = np.array([[1, 0], [1, 1], [0, 1]])
    multi_logits = np.array([[0.3, -1.0], [0.2, -0.1], [-2.0, 0.5]])
    assert validation_f1(multi_logits, matrix, "val_micro_f1") == pytest.approx(
        f1_score(matrix, [[1, 0], [1, 0], [0, 1]], average="micro")
    )
    assert np.isnan(validation_f1(np.full((2, 3), np.nan), truth[:2], "val_macro_f1"))


def test_checkpoint_and_stopping_keep_the_best_metric_epoch_not_the_lowest_loss(tmp_path) -> None:
    """Validation loss falls every epoch while macro-F1 peaks at epoch 2: the metric decides."""
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")  # the history reads its rate
    callbacks = make_callbacks(tmp_path, early_stopping_patience=2, monitor="val_macro_f1")
    callbacks = [c for c in callbacks if not isinstance(c, keras.callbacks.TensorBoard)]
    callback_list = keras.callbacks.CallbackList(callbacks, model=model)
    callback_list.on_train_begin()
    epochs = [(0.9, 0.60), (0.7, 0.80), (0.5, 0.78), (0.4, 0.79), (0.3, 0.75)]
    for epoch, (loss, score) in enumerate(epochs):
        model.set_weights([np.full((2, 1), float(epoch + 1)), np.zeros(1)])
        callback_list.on_epoch_begin(epoch)
        callback_list.on_epoch_end(epoch, {"loss": loss, "val_loss": loss, "val_macro_f1": score})
        if model.stop_training:
            break
    callback_list.on_train_end()
    assert epoch == 3  # epochs 3 and 4 without a better macro-F1: patience 2 ends at epoch 4
    assert model.get_weights()[0][0, 0] == 2.0  # the stopper restored epoch 2
    saved = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    saved.load_weights(str(RunDir(tmp_path).best_weights))
    assert saved.get_weights()[0][0, 0] == 2.0  # and the checkpoint kept it
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["val_macro_f1"] == [0.60, 0.80, 0.78, 0.79]
    assert min(history["val_loss"]) == history["val_loss"][-1]  # the loss would have kept 4


def test_resumed_stopping_replays_the_metric(tmp_path) -> None:
    history = {"epoch": [1, 2, 3], "val_loss": [0.9, 0.5, 0.4], "val_macro_f1": [0.6, 0.8, 0.7]}
    (tmp_path / "history.json").write_text(json.dumps(history))
    assert past_monitor_values(tmp_path / "history.json", 3, "val_macro_f1") == [0.6, 0.8, 0.7]
    callbacks = make_callbacks(tmp_path, 2, completed=3, monitor="val_macro_f1")
    checkpoint = next(c for c in callbacks if isinstance(c, keras.callbacks.ModelCheckpoint))
    assert checkpoint.best == 0.8
    stopper = ResumableEarlyStopping([0.6, 0.8, 0.7], patience=2, monitor="val_macro_f1")
    stopper.set_model(keras.Sequential([keras.layers.Dense(1, input_shape=(2,))]))
    stopper.on_train_begin()
    assert (stopper.best, stopper.best_epoch, stopper.wait) == (0.8, 1, 1)
    stopper.on_epoch_end(3, {"val_macro_f1": 0.79})
    assert stopper.model.stop_training


def _fit(checkpoint, data, run_dir, **overrides):
    from kerasbert.training.fit import fit_run

    settings = {**LEARNABLE_SETTINGS, "precision": "fp32", "seed": 3, **overrides}
    return fit_run(tiny_config(checkpoint, data, run_dir, **settings))


def test_a_run_keeps_and_records_its_best_validation_epoch(
    learnable_checkpoint, keyword_csv, tmp_path
) -> None:
    from kerasbert.training import checkpoint as checkpoints
    from kerasbert.training import pipeline

    run = RunDir(_fit(learnable_checkpoint, keyword_csv, tmp_path / "run", epochs=None,
                      early_stopping_patience=2, token_budget=20_000))  # fmt: skip
    recipe = run.read_recipe()
    # The record sits in config.json beside the settings it resolved, which still read back.
    stored = json.loads(run.config.read_text())
    assert stored["recipe"] == recipe and stored["epochs"] is None
    assert run.read_config() == TrainConfig.from_file(run.config)
    assert "recipe" not in run.read_data_summary()
    history = run.read_history()
    assert recipe["epochs_from"].startswith("auto: ceil(token budget 20,000 / ")
    assert recipe["epochs"] == planned_epochs(
        TrainConfig(token_budget=20_000), recipe["epoch_tokens"]
    )
    assert recipe["epochs_trained"] == len(history["epoch"]) <= recipe["epochs"]
    assert recipe["kept_epoch"] == int(np.argmax(history["val_macro_f1"])) + 1
    assert recipe["ended"].endswith(f"kept epoch {recipe['kept_epoch']}")
    # The saved model is the kept epoch's: its validation macro-F1 is the history's best.
    model, tokenizer = checkpoints.load_trained_model(run.model)
    validation = run.read_split("validation")
    encoded = pipeline.encode(tokenizer, validation.texts, 40)
    logits = pipeline.predict_logits(model, encoded)
    labels = run.read_labels()
    score = validation_f1(logits, validation.label_ids(labels), "val_macro_f1")
    assert score == pytest.approx(max(history["val_macro_f1"]), abs=1e-6)


class _Killed(Exception):
    """Stands for the process dying after an epoch was backed up."""


def test_a_resumed_run_trains_to_the_plan_it_started_with(
    learnable_checkpoint, keyword_csv, tmp_path
) -> None:
    from kerasbert.training.callbacks import completed_epochs

    class DieAfterFirstEpoch(keras.callbacks.Callback):
        # Runs after the run's own callbacks: the epoch is in the history and the backup.
        def on_epoch_end(self, epoch, logs=None):
            raise _Killed()

    from kerasbert.training.fit import fit_run

    settings = {**LEARNABLE_SETTINGS, "precision": "fp32", "seed": 3, "epochs": None,
                "early_stopping_patience": 0, "token_budget": 40_000}  # fmt: skip
    config = tiny_config(learnable_checkpoint, keyword_csv, tmp_path / "run", **settings)
    with pytest.raises(_Killed):
        fit_run(config, callbacks=[DieAfterFirstEpoch()])
    run = RunDir(tmp_path / "run")
    assert completed_epochs(run.backup) == 1
    stored = json.loads(run.config.read_text())
    planned = stored["recipe"]["epochs"]
    assert planned > 3  # the rule's plan; the record below says 3
    # The record, not the rule, decides the resumed run: change it and the run follows it.
    stored["recipe"]["epochs"] = 3
    run.config.write_text(json.dumps(stored))
    fit_run(config)
    record = run.read_recipe()
    assert run.read_history()["epoch"] == [1, 2, 3]
    assert (record["epochs"], record["epochs_trained"]) == (3, 3)
    assert record["ended"].startswith("ran all 3")


def test_the_report_says_what_the_recipe_chose_and_why(tmp_path) -> None:
    from test_plots import make_run_dir

    from kerasbert.evaluation.report import write_report

    run_dir = make_run_dir(tmp_path)
    recipe = plan_recipe(TrainConfig(), 2_000, 70_000, multi_label=False)
    history = {"epoch": [1, 2, 3, 4], "val_macro_f1": [0.7, 0.8, 0.79, 0.78]}
    # Batch and rate left to the recipe: the settings table shows what it chose.
    config = json.loads((run_dir / "config.json").read_text())
    config.update(batch_size=None, learning_rate=None)
    (run_dir / "config.json").write_text(json.dumps(config))
    RunDir(run_dir).write_recipe(finish_recipe(recipe, history))
    report = write_report(run_dir).read_text(encoding="utf-8")
    # The settings shown are the settings; the record is not one of them.
    assert '"recipe"' not in report.split("All settings")[1]
    assert "| `batch_size` | `32` |" in report and "| `learning_rate` | `8e-05` |" in report
    assert (
        "Recipe: epochs: auto → 5 (auto: ceil(token budget 350,000 / 70,000 tokens per epoch) "
        "= 5), stopped at 4: validation macro-F1 did not rise for 2 epochs after epoch 2; kept "
        "epoch 2; batch 32 (auto: 63 steps per epoch at batch 32, at least 32); epoch kept and "
        "stopping by validation macro-F1 (auto: single-label)"
    ) in report
    assert "Kept: epoch 2 (best validation macro-F1)." in report


def test_compare_sweep_and_plots_take_the_kept_epoch_from_the_runs_metric(tmp_path):
    from kerasbert.evaluation.plots import plot_training_curves
    from kerasbert.experiments.runinfo import RunInfo
    from kerasbert.experiments.sweep import kept_epoch_value
    from kerasbert.training.recipe import kept_index, kept_metric

    # Validation loss keeps falling while macro-F1 peaks at epoch 2: a macro-F1 run keeps 2.
    history = {
        "epoch": [1, 2, 3],
        "loss": [1.0, 0.5, 0.2],
        "accuracy": [0.5, 0.7, 0.9],
        "val_loss": [0.9, 0.6, 0.5],
        "val_accuracy": [0.6, 0.8, 0.7],
        "val_macro_f1": [0.55, 0.81, 0.66],
    }
    record = {"metric": "val_macro_f1", "kept_epoch": 2}
    assert kept_metric(record) == "val_macro_f1" and kept_metric(None) == "val_loss"
    assert kept_index(history, "val_macro_f1") == 1 and kept_index(history, "val_loss") == 2
    assert kept_epoch_value(history, "val_accuracy", "val_macro_f1") == (0.8, 2)
    assert kept_epoch_value(history, "val_accuracy") == (0.7, 3)  # runs without a recipe
    info = RunInfo(
        path=tmp_path,
        name="run",
        settings=None,
        data="d",
        task="single_label",
        labels=["a", "b"],
        test_fingerprint="f",
        test_size=2,
        history=history,
        kept_metric="val_macro_f1",
    )
    assert info.best_epoch == 1 and info.validation("val_loss") == 0.6
    assert plot_training_curves(history, tmp_path / "curves.png", "val_macro_f1").is_file()
