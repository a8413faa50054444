"""Tests for `kerasbert.experiments.space`: the sweep file, and every mistake named before a trial."""

from __future__ import annotations

import pytest
import yaml

from kerasbert.cli import main
from kerasbert.common.errors import InputError
from kerasbert.experiments.space import parse_sweep_spec

BASE = {"data": "bbc-headlines", "epochs": 1}


def test_a_sweep_file_becomes_dimensions_and_trial_configs() -> None:
    spec = parse_sweep_spec(
        {
            "base": BASE,
            "space": {
                "learning-rate": {"low": 1e-5, "high": 1e-3, "log": True},
                "batch_size": [16, 32],
                "max_length": {"low": 32, "high": 128, "step": 32},
                "warmup_ratio": {"low": 0, "high": 0.2},
            },
            "objective": "val_accuracy",
            "budget": {"trials": 6, "minutes": 30},
        }
    )
    dimensions = {dimension.name: dimension for dimension in spec.space}
    assert dimensions["learning_rate"].log and dimensions["learning_rate"].low == 1e-5
    assert dimensions["batch_size"].choices == (16, 32)
    assert dimensions["max_length"].step == 32
    assert isinstance(dimensions["warmup_ratio"].low, float)
    assert (spec.trials, spec.minutes, spec.direction) == (6, 30, "maximize")
    config = spec.trial_config({"learning_rate": 3e-5, "batch_size": 16}, output_dir="t/0")
    assert (config.data, config.epochs, config.learning_rate, config.batch_size) == (
        "bbc-headlines",
        1,
        3e-5,
        16,
    )


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        (
            {"space": {"learning_rat": [1e-5], "dropout": [0.1]}},
            "unknown field(s) in the search space: dropout, learning_rat",
        ),
        ({"space": {"learning_rate": {"low": 1e-3, "high": 1e-5}}}, "is empty"),
        ({"space": {"max_length": {"low": 64, "high": 64}}}, "is empty"),
        ({"space": {"batch_size": []}}, "empty list"),
        ({"space": {}}, "at least one"),
        ({"budget": {"trials": 0}}, "at least 1 trial"),
        ({"budget": {"minutes": 0}}, "more than 0 minutes"),
        ({"space": {"output_dir": ["a", "b"]}}, "the sweep sets them"),
        ({"space": {"seed": [1, 2]}}, "fix them in base"),
        ({"space": {"epochs": [1, 2]}}, "also set in base"),
        ({"space": {"learning_rate": {"low": 0.0, "high": 1e-3, "log": True}}}, "needs low > 0"),
        ({"space": {"padding": {"low": 1, "high": 2}}}, "give a list"),
        (
            {"space": {"warmup_ratio": {"low": 0.0, "high": 1.5}}},
            "--warmup-ratio must be in [0, 1)",
        ),
        ({"space": {"model": ["minilm", "no/such/checkpoint"]}}, "not a local checkpoint"),
        ({"objective": "test_accuracy"}, "objective must be one of auto, val_loss, val_accuracy"),
        (
            {"objective": "val_macro_f1", "base": {**BASE, "early_stopping_metric": "val_loss"}},
            "set it to auto or val_macro_f1",
        ),
        (
            {"space": {"early_stopping_metric": ["val_loss", "val_macro_f1"]}},
            "objective auto follows each trial's early_stopping_metric",
        ),
        ({"budgets": {"trials": 3}}, "unknown key(s) budgets"),
    ],
)
def test_mistakes_are_named(sweep: dict, message: str) -> None:
    values = {"base": BASE, "space": {"learning_rate": [1e-5, 3e-5]}, **sweep}
    with pytest.raises(InputError) as error:
        parse_sweep_spec(values)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("objective", "stopping", "metric", "direction"),
    [
        ("auto", "auto", None, "maximize"),  # each trial's recipe: macro-F1 or micro-F1
        ("auto", "val_loss", "val_loss", "minimize"),
        ("auto", "val_accuracy", "val_accuracy", "maximize"),
        ("val_loss", "auto", "val_loss", "minimize"),
        ("val_micro_f1", "auto", "val_micro_f1", "maximize"),
    ],
)
def test_the_objective_follows_the_metric_runs_keep_their_epoch_by(
    objective: str, stopping: str, metric: str | None, direction: str
) -> None:
    base = {**BASE, "early_stopping_metric": stopping}
    values = {"base": base, "space": {"learning_rate": [1e-5, 3e-5]}}
    spec = parse_sweep_spec({**values, **({} if objective == "auto" else {"objective": objective})})
    assert (spec.objective, spec.metric, spec.direction) == (objective, metric, direction)


def test_cli_refuses_a_bad_sweep_file_in_one_line(tmp_path, capsys) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"base": BASE, "space": {"learning_rate": [1e-5]}}))
    assert main(["sweep", "--config", str(path), "--trials", "0"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("kerasbert sweep: error:") and "at least 1 trial" in error
    assert "\n" not in error
    assert not (tmp_path / "sweeps").exists()
