"""Tests for `kerasbert.experiments.compare` (with `runinfo` and `compareplots`): tiny real runs on
one data set, another seed's test split, and a sentence-pair task."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import LEARNABLE_SETTINGS, RunAndExport, tiny_config

from kerasbert.cli import main
from kerasbert.common.errors import InputError
from kerasbert.evaluation.evaluate import evaluate_run
from kerasbert.experiments.compare import compare_runs
from kerasbert.export.export import export_run
from kerasbert.training.fit import fit_run


@pytest.fixture(scope="module")
def runs(
    learnable_checkpoint, keyword_csv, tiny_pair: RunAndExport, tmp_path_factory
) -> dict[str, Path]:
    """`a` (exported) and `b` differ in learning rate; `c` has another seed, so another test
    split; `d` was trained but never evaluated (as a sweep's trials are); `pairs` is another
    data set and task."""
    folder = tmp_path_factory.mktemp("compare") / "runs"
    settings = {
        "a": {"export_dir": str(folder.parent / "exported" / "a")},
        "b": {"learning_rate": 3e-3},
        "c": {"seed": 7},
        "d": {"learning_rate": 2e-3},
    }
    paths = {}
    for name, overrides in settings.items():
        config = tiny_config(
            learnable_checkpoint,
            keyword_csv,
            folder / name,
            epochs=3,
            **{**LEARNABLE_SETTINGS, **overrides},
        )
        paths[name] = fit_run(config)
        if name != "d":
            evaluate_run(paths[name], plots=False)
    export_run(paths["a"], settings["a"]["export_dir"])
    paths["pairs"] = tiny_pair.run_dir
    return paths


def test_one_table_of_settings_metrics_and_cost(runs, tmp_path) -> None:
    comparison = compare_runs([runs["a"], runs["b"], runs["d"]], tmp_path / "out")
    assert list(comparison.groups) == ["A"]  # one data set, one test split
    assert comparison.varying == ["learning_rate"]
    a, b, d = comparison.rows
    assert (a["learning_rate"], b["learning_rate"], d["learning_rate"]) == (1e-3, 3e-3, 2e-3)
    metrics = json.loads((runs["a"] / "metrics.json").read_text())
    assert a["test_accuracy"] == metrics["accuracy"]
    assert a["lift_points"] == pytest.approx(100 * metrics["lift"]["accuracy"])
    history = json.loads((runs["a"] / "history.json").read_text())
    assert a["val_loss"] == min(history["val_loss"]) and a["epochs_trained"] == 3
    assert a["train_seconds"] == pytest.approx(sum(history["epoch_seconds"]))
    assert a["examples_per_second"] > 0 and a["model_mb"] > 0
    exported = json.loads((runs["a"].parent.parent / "exported/a/kerasbert.json").read_text())
    assert a["int8_delta_points"] == -exported["int8"]["accuracy_drop_points"]
    assert b["int8_delta_points"] is None  # never exported
    assert d["test_accuracy"] is None and d["val_accuracy"] is not None
    assert "compared by validation only: d." in comparison.markdown()
    names = {path.name for path in comparison.files}
    assert names == {
        "compare.md",
        "compare.csv",
        "validation_curves.png",
        "metric_vs_learning_rate.png",
        "accuracy_vs_training_time.png",
    }
    rows = list(csv.DictReader((tmp_path / "out" / "compare.csv").open()))
    assert [row["run"] for row in rows] == ["a", "b", "d"] and rows[2]["test_accuracy"] == ""


def test_runs_of_other_data_and_tasks_are_flagged_not_mixed(runs, tmp_path, capsys) -> None:
    """The CLI over a glob of runs plus a pair run: two groups, and what cannot be compared."""
    output = tmp_path / "out"
    assert main(["compare", str(runs["a"]), str(runs["pairs"]), "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "2 groups whose test metrics cannot be compared" in printed
    assert "they differ in data set, task and test split" in printed
    rows = list(csv.DictReader((output / "compare.csv").open()))
    assert [(row["run"], row["group"], row["task"]) for row in rows] == [
        ("a", "A", "single-label"),
        ("pair-run", "B", "text pairs"),
    ]
    assert rows[1]["headline"].startswith("macro_f1 ")


def test_another_test_split_of_the_same_data_is_its_own_group(runs) -> None:
    comparison = compare_runs([runs["a"], runs["c"]])
    assert list(comparison.groups) == ["A", "B"]
    assert "they differ in test split." in comparison.notes[0]
    assert comparison.files == []  # no output: nothing written


def test_globs_and_directories_that_are_not_runs(runs, tmp_path, capsys) -> None:
    folder = runs["a"].parent
    assert [row["run"] for row in compare_runs([f"{folder}/[ab]"]).rows] == ["a", "b"]
    stray = tmp_path / "notes"
    stray.mkdir()
    with pytest.raises(InputError, match="notes is not a kerasbert run directory"):
        compare_runs([runs["a"], stray])
    assert main(["compare", str(runs["a"]), str(tmp_path / "missing")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("kerasbert compare: error:") and "missing is not a directory" in error


def test_a_multi_label_run_is_read_by_its_headline_metric(runs, tmp_path) -> None:
    """A multi-label run's files as `RunDir` writes them: label sets, and micro-F1 as headline."""
    from kerasbert.config import TrainConfig
    from kerasbert.data.examples import Examples
    from kerasbert.training.rundir import RunDir

    run = RunDir(tmp_path / "multi")
    run.write_config(TrainConfig(data="bbc-multilabel", learning_rate=1e-3, max_length=40))
    run.write_labels(["business", "sport", "tech"])
    label_sets = [("business",), ("sport", "tech"), ()]
    run.write_split("test", Examples(["a", "b", "c"], label_sets))
    run.write_history({"epoch": [1], "loss": [0.4], "val_loss": [0.3], "epoch_seconds": [2.0]})
    run.write_metrics({"accuracy": 0.5, "subset_accuracy": 0.5, "micro_f1": 0.8, "macro_f1": 0.7})

    comparison = compare_runs([runs["a"], run.path])
    single, multi = comparison.rows
    assert (multi["task"], multi["headline"], multi["val_accuracy"]) == (
        "multi-label",
        "micro_f1 0.8000",
        None,  # no such history key: an empty cell, not an error
    )
    assert single["headline"].startswith("accuracy ")
    assert "they differ in data set, task and test split" in comparison.notes[0]
