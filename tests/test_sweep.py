"""Tests for `kerasbert.experiments.sweep`: tiny studies that resume, prune and never read the test
split, on the checkpoint that learns on any CPU (`conftest.learnable_checkpoint`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import optuna
import pytest
import yaml
from conftest import tiny_texts, write_csv
from optuna.trial import TrialState

from kerasbert.cli import main
from kerasbert.experiments import pruning
from kerasbert.experiments.space import parse_sweep_spec
from kerasbert.experiments.sweep import STUDY_NAME, run_sweep
from kerasbert.experiments.sweepdir import SweepDir
from kerasbert.training.rundir import RunDir


def sweep_file(checkpoint: Path, data: Path, **overrides) -> dict:
    """A sweep over the learning rate of 3-epoch tiny runs (seconds per trial)."""
    values = {
        "base": {
            "data": str(data),
            "model": str(checkpoint),
            "max_length": 40,
            "batch_size": 8,
            "epochs": 3,
            "warmup_ratio": 0.0,
            "early_stopping_patience": 0,
        },
        "space": {"learning_rate": {"low": 1e-3, "high": 5e-3, "log": True}},
        "budget": {"trials": 2},
        "export": False,
    }
    return {**values, **overrides}


def study_of(folder: Path) -> optuna.Study:
    return optuna.load_study(study_name=STUDY_NAME, storage=SweepDir(folder).storage_url)


@pytest.mark.slow  # several tiny trainings; the interrupted-trial test stays fast
def test_resume_runs_no_finished_trial_again(
    learnable_checkpoint, keyword_csv, tmp_path, capsys
) -> None:
    folder = tmp_path / "sweep"
    values = sweep_file(learnable_checkpoint, keyword_csv, pruning=False)
    first = run_sweep(parse_sweep_spec(values), folder)
    assert first.counts == {"complete": 2} and first.trials_run_now == 2
    histories = {number: SweepDir(folder).trial(number) / "history.json" for number in (0, 1)}
    written = {number: path.stat().st_mtime_ns for number, path in histories.items()}

    # A sweep killed right after starting trial 2: the study holds it as running.
    study = study_of(folder)
    study.enqueue_trial({"learning_rate": 2e-3})
    killed = study.ask()
    killed.suggest_float("learning_rate", 1e-3, 5e-3, log=True)  # as the objective does first
    assert [trial.state for trial in study.trials][-1] == TrialState.RUNNING

    spec = parse_sweep_spec(values, trials=3)
    second = run_sweep(spec, folder)
    states = [(trial.number, trial.state) for trial in study_of(folder).trials]
    assert states == [
        (0, TrialState.COMPLETE),
        (1, TrialState.COMPLETE),
        (2, TrialState.FAIL),  # the killed one: failed, not counted done
        (3, TrialState.COMPLETE),  # run again with its parameters, in its directory
    ]
    assert second.restarted == [2] and second.trials_run_now == 1
    retried = study_of(folder).trials[3]
    assert retried.params == {"learning_rate": 2e-3}
    assert retried.user_attrs["run_dir"] == "trials/trial-002"
    assert not SweepDir(folder).trial(3).exists()
    assert {number: path.stat().st_mtime_ns for number, path in histories.items()} == written

    # Nothing left to run: a third start, through the CLI, only finishes (the best trial was
    # evaluated once: its metrics stay as they were).
    best = json.loads(SweepDir(folder).best.read_text())
    metrics = (Path(best["run_dir"]) / "metrics.json").stat().st_mtime_ns
    sweep_yaml = tmp_path / "sweep.yaml"
    sweep_yaml.write_text(yaml.safe_dump(values))
    command = ["sweep", "--config", str(sweep_yaml), "--output", str(folder), "--trials", "3"]
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert "Trials run now: 0" in printed and f"Best trial {best['trial']} " in printed
    assert json.loads(SweepDir(folder).best.read_text())["test"] == best["test"]
    assert (Path(best["run_dir"]) / "metrics.json").stat().st_mtime_ns == metrics
    # A time budget counts the finished trials' time across sessions: spent, nothing runs.
    spent = run_sweep(parse_sweep_spec(values, trials=10, minutes=0.001), folder)
    assert spent.trials_run_now == 0
    rows = list(csv.DictReader((SweepDir(folder).comparison / "compare.csv").open()))
    assert [row["trial"] for row in rows] == ["0", "1", "3"]
    assert (SweepDir(folder).optuna_plots / "optimization_history.png").is_file()


def test_interrupted_trial_resumes_from_its_last_epoch(
    learnable_checkpoint, keyword_csv, tmp_path, monkeypatch
) -> None:
    """Ctrl-C during trial 0's second epoch; the restart trains only its third epoch."""
    epochs_trained: list[int] = []
    original = pruning.PruningCallback.on_epoch_end

    def interrupt_once(self, epoch, logs=None):
        epochs_trained.append(epoch + 1)
        if epochs_trained == [1, 2]:
            raise KeyboardInterrupt
        original(self, epoch, logs)

    monkeypatch.setattr(pruning.PruningCallback, "on_epoch_end", interrupt_once)
    folder = tmp_path / "sweep"
    spec = parse_sweep_spec(sweep_file(learnable_checkpoint, keyword_csv), trials=1)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, folder)
    assert not (folder / "sweep.lock").exists()

    result = run_sweep(spec, folder)
    assert result.restarted == [0]
    assert epochs_trained == [1, 2, 3]  # epochs 1 and 2 were not trained again
    history = RunDir(SweepDir(folder).trial(0)).read_history()
    assert history["epoch"] == [1, 2, 3]
    trials = study_of(folder).trials
    assert [trial.state for trial in trials] == [TrialState.FAIL, TrialState.COMPLETE]
    assert trials[1].intermediate_values.keys() == {1, 2, 3}
    # Objective auto: the metric the run keeps its epoch by (macro-F1 here), epoch by epoch and at
    # the kept epoch; the epochs before the interruption are replayed from the run's history.
    reported = [trials[1].intermediate_values[epoch] for epoch in (1, 2, 3)]
    assert reported == pytest.approx(history["val_macro_f1"])
    assert trials[1].value == pytest.approx(max(history["val_macro_f1"]))


@pytest.mark.slow  # several tiny trainings; the interrupted-trial test stays fast
def test_pruning_stops_a_trial_with_an_absurd_learning_rate(
    learnable_checkpoint, keyword_csv, tmp_path
) -> None:
    folder = tmp_path / "sweep"
    values = sweep_file(learnable_checkpoint, keyword_csv, budget={"trials": 3})
    values["base"]["epochs"] = 4
    values["space"] = {"learning_rate": {"low": 1e-4, "high": 100.0, "log": True}}
    spec = parse_sweep_spec(values)
    # Queue the proposals: two sensible rates, then one that wrecks the weights in a step.
    SweepDir(folder).check_settings(spec.study_settings())
    study = optuna.create_study(
        study_name=STUDY_NAME, storage=SweepDir(folder).storage_url, direction=spec.direction
    )
    for rate in (1e-3, 2e-3, 50.0):
        study.enqueue_trial({"learning_rate": rate})

    result = run_sweep(spec, folder)
    trials = study_of(folder).trials
    assert [trial.state for trial in trials] == [
        TrialState.COMPLETE,
        TrialState.COMPLETE,
        TrialState.PRUNED,
    ]
    assert result.counts == {"complete": 2, "pruned": 1}
    history = RunDir(SweepDir(folder).trial(2)).read_history()
    assert len(history["epoch"]) < 4  # stopped before the planned epochs
    assert list(trials[2].intermediate_values) == history["epoch"]
    assert result.best["trial"] in (0, 1)


def _rotated_labels(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    rotation = {"business": "sport", "sport": "tech", "tech": "business"}
    return [(text, rotation[label]) for text, label in rows]


@pytest.mark.slow  # several tiny trainings; the interrupted-trial test stays fast
def test_the_objective_never_sees_the_test_split(learnable_checkpoint, tmp_path) -> None:
    """Two sweeps that differ only in the test file's labels: every trial's objective is the same,
    and only the best trial, after the search, is evaluated on the test split."""
    rows = tiny_texts(100, seed=3)
    data = write_csv(tmp_path / "data.csv", rows[:240])
    test_files = {
        "true": write_csv(tmp_path / "test-true.csv", rows[240:]),
        "rotated": write_csv(tmp_path / "test-rotated.csv", _rotated_labels(rows[240:])),
    }
    values, bests = {}, {}
    for name, test_file in test_files.items():
        sweep = sweep_file(learnable_checkpoint, data)
        sweep["base"]["test_data"] = str(test_file)
        folder = tmp_path / f"sweep-{name}"
        result = run_sweep(parse_sweep_spec(sweep), folder)
        values[name] = [trial.value for trial in study_of(folder).trials]
        bests[name] = result.best
        for number in (0, 1):
            run = RunDir(SweepDir(folder).trial(number))
            evaluated = number == result.best["trial"]
            assert run.metrics.is_file() == evaluated
            assert run.test_probabilities.is_file() == evaluated
    assert values["true"] == values["rotated"]
    assert bests["true"]["trial"] == bests["rotated"]["trial"]
    # The test labels did reach the final evaluation: rotated, they make the model look wrong.
    assert bests["true"]["test"]["accuracy"] > bests["rotated"]["test"]["accuracy"] + 0.3
