"""Tests for `kerasbert.training.fit`: the job on a tiny checkpoint, and end to end on the real one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import LEARNABLE_SETTINGS, tiny_config, tiny_texts, write_csv
from sklearn.metrics import accuracy_score, f1_score

from kerasbert.common.errors import InputError
from kerasbert.config import TrainConfig
from kerasbert.evaluation.evaluate import evaluate_run
from kerasbert.training.fit import fit_run
from kerasbert.training.rundir import RunDir

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_run(learnable_checkpoint, keyword_csv, tmp_path_factory) -> tuple[Path, TrainConfig]:
    """One run that must learn the keyword task, whatever CPU the suite runs on (see
    `conftest.learnable_checkpoint`)."""
    output_dir = tmp_path_factory.mktemp("runs") / "tiny"
    config = tiny_config(learnable_checkpoint, keyword_csv, output_dir, **LEARNABLE_SETTINGS)
    run_dir = fit_run(config)
    evaluate_run(run_dir, plots=False)
    return run_dir, config


def test_run_directory_layout(tiny_run) -> None:
    run_dir, config = tiny_run
    for name in (
        "config.json",
        "labels.json",
        "history.json",
        "metrics.json",
        "data_summary.json",
        "data/test.jsonl",
        "model/config.json",
        "model/tf_model.h5",
        "model/tokenizer.json",
    ):
        assert (run_dir / name).is_file(), name  # fmt: skip
    stored = json.loads((run_dir / "config.json").read_text())
    assert stored.pop("recipe")["epochs_trained"] == 6  # what the run made of its settings
    assert stored == config.to_dict()
    assert json.loads((run_dir / "labels.json").read_text()) == ["business", "sport", "tech"]
    # Removed once the kept weights are in model/: the resume state and the best-epoch checkpoint.
    assert not (run_dir / "backup").exists()
    assert not (run_dir / "checkpoints").exists()
    assert any((run_dir / "logs").rglob("events.out.tfevents.*"))
    model_config = json.loads((run_dir / "model" / "config.json").read_text())
    assert model_config["id2label"] == {"0": "business", "1": "sport", "2": "tech"}


def test_history_has_every_epoch(tiny_run) -> None:
    history = json.loads((tiny_run[0] / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3, 4, 5, 6]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_seconds"):
        assert len(history[key]) == 6 and all(np.isfinite(history[key]))
    assert history["loss"][-1] < history["loss"][0]


def test_metrics_agree_with_scikit_learn(tiny_run) -> None:
    run_dir, _ = tiny_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    labels = metrics["labels"]
    test = RunDir(run_dir).read_split("test")
    truth = test.label_ids(labels)
    predicted = np.array(json.loads((run_dir / "test_probabilities.json").read_text())).argmax(1)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert metrics["macro_f1"] == pytest.approx(f1_score(truth, predicted, average="macro"))
    assert (
        np.array(metrics["confusion_matrix"]).sum() == len(test) == metrics["split_sizes"]["test"]
    )
    assert set(metrics["per_class"]) == set(labels)
    assert metrics["accuracy"] > 0.8  # keywords decide the class; chance is 1/3
    assert {"accuracy", "macro_f1"} <= set(metrics["baseline"])


def test_summary_records_padding_and_lengths(tiny_run) -> None:
    summary = json.loads((tiny_run[0] / "data_summary.json").read_text())
    assert summary["padding"]["mode"] == "bucket"
    assert 0.9 < summary["padding"]["train_padding_efficiency"] <= 1.0
    assert summary["token_lengths"]["train"]["p50"] > 5
    assert sum(summary["split_sizes"].values()) == 300
    # 210 training texts in batches of 8: 27 steps per epoch, the 6 epochs the config asks for.
    recipe = RunDir(tiny_run[0]).read_recipe()
    assert {key: recipe[key] for key in ("epochs", "steps_per_epoch", "total_steps", "epochs_from")} == {
        "epochs": 6, "steps_per_epoch": 27, "total_steps": 162, "epochs_from": "--epochs (yours)"
    }  # fmt: skip


def test_existing_run_directory_is_refused(tiny_checkpoint, tiny_csv, tiny_run) -> None:
    config = tiny_config(tiny_checkpoint, tiny_csv, tiny_run[0])
    with pytest.raises(InputError, match="already exists.*--overwrite"):
        fit_run(config)


def test_max_length_beyond_positions_leaves_no_run_dir(tiny_checkpoint, tiny_csv, tmp_path) -> None:
    config = tiny_config(tiny_checkpoint, tiny_csv, tmp_path / "run", max_length=100)
    with pytest.raises(InputError, match="exceeds the 64 positions"):
        fit_run(config)
    assert not (tmp_path / "run").exists()


def test_cli_user_error_exits_2_without_traceback(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), "--data", str(tmp_path / "no.csv")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "no.csv" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_train_script_end_to_end_on_real_checkpoint(tmp_path) -> None:
    """The user's command on the real MiniLM and real BBC headlines (a small subset)."""
    run_dir = tmp_path / "run"
    command = [
        sys.executable, str(ROOT / "scripts" / "train.py"), "--data", "bbc-headlines",
        "--max-train-samples", "400", "--max-eval-samples", "100", "--epochs", "2",
        "--max-length", "32", "--batch-size", "16", "--learning-rate", "1e-4",
        "--output-dir", str(run_dir), "--export-dir", str(tmp_path / "export"),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["split_sizes"] == {"train": 400, "validation": 100, "test": 100}
    assert metrics["accuracy"] > 0.75  # 5 balanced classes: chance is 0.2
    assert "Test accuracy" in result.stdout and str(run_dir) in result.stdout
    assert (tmp_path / "export" / "model.int8.onnx").is_file()
    assert (run_dir / "report.md").is_file()
    timings = json.loads((run_dir / "timings.json").read_text())
    phases = ["prepare", "fit_head", "train", "save", "evaluate", "export"]
    assert list(timings) == ["total", *phases]
    assert all(timings[name] > 0 for name in phases)
    assert sum(timings[name] for name in phases) <= timings["total"]
    assert "Time taken:" in result.stdout and "(prepare " in result.stdout
    # Other libraries' INFO chatter (tf2onnx, the quantizer's per-tensor lines) stays out.
    assert "Quantization parameters" not in result.stderr
    assert " INFO tf2onnx" not in result.stderr and " INFO onnx_model_bert" not in result.stderr


def test_user_csv_with_custom_columns_trains_through_the_cli(
    tiny_checkpoint, tmp_path, capsys
) -> None:

    from kerasbert.cli import main

    data = write_csv(tmp_path / "reviews.csv", tiny_texts(20), columns=("body", "topic"))
    run_dir = tmp_path / "run"
    status = main(
        ["train", "--data", str(data), "--text-column", "body", "--label-column", "topic",
         "--model", str(tiny_checkpoint), "--max-length", "40", "--batch-size", "8",
         "--epochs", "1", "--output-dir", str(run_dir), "--no-export", "--no-plots"]
    )  # fmt: skip
    assert status == 0
    assert json.loads((run_dir / "labels.json").read_text()) == ["business", "sport", "tech"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert sum(metrics["split_sizes"].values()) == 60
    out = capsys.readouterr().out
    assert f"{metrics['accuracy']:.4f}" in out
    timings = json.loads((run_dir / "timings.json").read_text())
    assert set(timings) == {"total", "prepare", "fit_head", "train", "save", "evaluate"}
    assert f"Time taken:      {timings['total']:.0f} s (prepare" in out


@pytest.fixture(scope="module")
def pair_run(tiny_pair) -> Path:
    return tiny_pair.run_dir


def test_pair_run_learns_from_both_texts(pair_run) -> None:
    from tiny_pair_fixtures import PAIR_LABELS

    run = RunDir(pair_run)
    summary = run.read_data_summary()
    assert summary["pair"] is True
    assert summary["columns"]["text"] == "question1"
    assert summary["columns"]["text_pair"] == "question2"
    test = run.read_split("test")
    assert test.text_pairs is not None and len(test.text_pairs) == len(test.texts) == 60
    # Token lengths count the whole pair: [CLS] first [SEP] second [SEP].
    assert summary["token_lengths"]["train"]["p50"] > 12
    metrics = run.read_metrics()
    assert metrics["labels"] == PAIR_LABELS
    assert metrics["accuracy"] > 0.7  # the second text's keyword decides; chance is 1/3
    assert "elementwise product" in metrics["baseline"]["model"]
    assert all(" ‖ " in item["text"] for item in metrics["confident_mistakes"])


def test_glue_style_tsv_of_pairs_trains_through_the_cli(tiny_checkpoint, tmp_path) -> None:
    """GLUE's TSV layout: tab-separated, no quoting, stray double quotes inside the texts."""
    from tiny_pair_fixtures import pair_rows

    from kerasbert.cli import main

    rows = pair_rows(48, seed=5)
    rows[0] = ('He said "hello to the bank .', rows[0][1], rows[0][2])
    rows[1] = (rows[1][0], 'the "team said " win .', rows[1][2])
    lines = ["index\tsentence1\tsentence2\tlabel"]
    lines += ["\t".join((str(index), *row)) for index, row in enumerate(rows)]
    data = tmp_path / "train.tsv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    status = main(
        ["train", "--data", str(data), "--model", str(tiny_checkpoint), "--max-length", "32",
         "--batch-size", "8", "--epochs", "1", "--truncation", "head_tail",
         "--output-dir", str(run_dir), "--no-export", "--no-plots"]
    )  # fmt: skip
    assert status == 0
    run = RunDir(run_dir)
    splits = [run.read_split(split) for split in ("train", "validation", "test")]
    written = {row for split in splits for row in zip(split.texts, split.text_pairs, split.labels)}
    assert written == set(rows)  # every line, quotes kept as characters
    assert run.read_data_summary()["pair"] is True
    assert run.read_config().truncation == "head_tail"
