"""The same seed and data give the same split, the same training curve and the same metrics on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import LEARNABLE_SETTINGS, tiny_config

from kerasbert.data.splits import load_splits
from kerasbert.evaluation.evaluate import evaluate_run
from kerasbert.training.fit import fit_run

SPLIT_FILES = ("data/train.jsonl", "data/validation.jsonl", "data/test.jsonl", "labels.json")
# Measured per run, so they differ between runs by nature.
TIMINGS = ("epoch_seconds",)


def _train(checkpoint: Path, data: Path, run_dir: Path, seed: int) -> Path:
    config = tiny_config(checkpoint, data, run_dir, seed=seed, **LEARNABLE_SETTINGS)
    fit_run(config)
    evaluate_run(run_dir, plots=False)
    return run_dir


@pytest.fixture(scope="module")
def two_runs(learnable_checkpoint, keyword_csv, tmp_path_factory) -> tuple[Path, Path]:
    """Two runs of the checkpoint that learns on any CPU (`conftest.learnable_checkpoint`), so the
    sanity check below tells a real result from two identical failures wherever it runs."""
    folder = tmp_path_factory.mktemp("determinism")
    return tuple(_train(learnable_checkpoint, keyword_csv, folder / name, seed=13) for name in "ab")


def test_same_seed_gives_the_same_split(two_runs) -> None:
    first, second = two_runs
    for name in SPLIT_FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_same_seed_gives_the_same_history_and_metrics(two_runs) -> None:
    first, second = (json.loads((run / "history.json").read_text()) for run in two_runs)
    for key in set(first) - set(TIMINGS):
        assert first[key] == second[key], key
    metrics = [json.loads((run / "metrics.json").read_text()) for run in two_runs]
    for values in metrics:
        values.pop("source")  # the run's own path
        values["baseline"].pop("fit_seconds")
    assert metrics[0] == metrics[1]
    assert 0.5 < metrics[0]["accuracy"] <= 1  # a real result, not two identical failures
    probabilities = [(run / "test_probabilities.json").read_text() for run in two_runs]
    assert probabilities[0] == probabilities[1]


def test_another_seed_gives_another_split(tiny_csv) -> None:
    splits = [load_splits(str(tiny_csv), seed=seed) for seed in (13, 13, 14)]
    assert splits[0].test.texts == splits[1].test.texts
    assert splits[0].test.texts != splits[2].test.texts
    assert splits[0].test.class_counts() == splits[2].test.class_counts()  # still stratified
