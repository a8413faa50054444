"""Multi-label end to end on a tiny learnable task: training (sigmoid + binary cross-entropy,
thresholds tuned on validation), evaluation, export parity on thresholded label sets, the
predictor's label sets and `kerasbert predict`; and the multi-label input errors (exit 2)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from tiny_multilabel_fixtures import (
    LABELS,
    multilabel_rows,
    write_binary_columns,
    write_jsonl_lists,
    write_separated_csv,
)

from kerasbert.cli import main
from kerasbert.common.decision import check_thresholds, label_sets
from kerasbert.common.errors import InputError
from kerasbert.data.splits import load_splits
from kerasbert.inference.exportdir import read_metadata
from kerasbert.training.rundir import RunDir
from kerasbert.training.thresholds import CEILING, FLOOR


@pytest.fixture(scope="module")
def multilabel(tiny_multilabel) -> tuple[Path, Path]:
    return tiny_multilabel


def test_training_writes_thresholds_metrics_plots_and_report(multilabel) -> None:
    run = RunDir(multilabel[0])
    tuned = run.read_thresholds()
    assert list(tuned["thresholds"]) == LABELS
    assert all(FLOOR <= value <= CEILING for value in tuned["thresholds"].values())
    assert run.read_data_summary()["task"] == "multi_label"
    model_config = json.loads((run.model / "config.json").read_text())
    assert model_config["problem_type"] == "multi_label_classification"
    assert "auc" in run.read_history() and "val_auc" in run.read_history()

    metrics = run.read_metrics()
    assert metrics["task"] == "multi_label" and metrics["thresholds"] == tuned["thresholds"]
    # 1.0 on every seed tried; chance (all labels at 0.5) is far below these margins.
    assert metrics["micro_f1"] >= 0.9 and metrics["macro_f1"] >= 0.85
    assert metrics["hamming_loss"] <= 0.06
    assert metrics["label_cardinality"]["true"] == pytest.approx(4 / 3, abs=0.05)
    assert {"samples_f1", "weighted_f1", "subset_accuracy"} <= set(metrics)
    baseline = metrics["baseline"]
    assert baseline["task"] == "multi_label" and "one-vs-rest" in baseline["model"]
    assert baseline["thresholds_from"] == "validation"
    for role in ("per_label_f1", "threshold_curves", "label_cooccurrence", "training_curves"):
        assert run.plot(role).stat().st_size > 0
    report = run.report.read_text()
    assert "Multi-label: test micro F1" in report and "### Per label" in report
    assert "## Sample predictions" in report and "Threshold" in report


def test_export_checks_the_thresholded_label_sets(multilabel) -> None:
    run, export = RunDir(multilabel[0]), multilabel[1]
    metadata = read_metadata(export)
    assert metadata["task"] == "multi_label" and metadata["label_separator"] == "|"
    assert metadata["thresholds"] == run.read_thresholds()["thresholds"]
    for variant in ("fp32", "optimized"):
        assert metadata["parity"][variant]["label_set_mismatches"] == 0
    assert metadata["predictor_vs_tensorflow"]["different_predictions"] == 0
    assert metadata["int8"]["examples"] == len(run.read_split("test"))


def test_predictor_label_sets_agree_with_tensorflow(multilabel) -> None:
    from kerasbert.inference.predictor import OnnxClassifier

    run, export = RunDir(multilabel[0]), multilabel[1]
    classifier = OnnxClassifier(export, variant="fp32")
    assert classifier.multi_label and classifier.labels == LABELS
    test = run.read_split("test")
    probabilities = classifier.predict_proba(test.texts)
    tensorflow = run.read_test_probabilities()
    assert np.abs(probabilities - tensorflow).max() < 1e-4
    thresholds = check_thresholds(run.read_thresholds()["thresholds"], LABELS)
    predicted = classifier.predict(test.texts)
    assert predicted == label_sets(tensorflow, thresholds, LABELS)
    assert sum(p == list(t) for p, t in zip(predicted, test.labels)) >= 0.8 * len(test)

    top = classifier.predict_topk(test.texts[:2], k=3)
    assert [label for label, _ in top[0]] != [] and top[0][0][1] >= top[0][1][1] >= top[0][2][1]
    everything = OnnxClassifier(export, variant="fp32", thresholds=dict.fromkeys(LABELS, 0.0))
    assert everything.predict(test.texts[:3]) == [LABELS] * 3
    with pytest.raises(InputError, match=r"each label \['business', 'sport', 'tech'\]; missing"):
        OnnxClassifier(export, variant="fp32", thresholds={"business": 0.5})


def test_predict_command_prints_label_sets(multilabel, tmp_path, capsys) -> None:
    from kerasbert.inference.predictor import OnnxClassifier

    export = str(multilabel[1])
    test = RunDir(multilabel[0]).read_split("test")
    text = next(text for text, labels in zip(test.texts, test.labels) if len(labels) == 2)
    expected = OnnxClassifier(export, variant="fp32").predict([text])[0]
    assert main(["predict", export, text, "--variant", "fp32"]) == 0
    labels, probabilities, shown = capsys.readouterr().out.strip().split("\t")
    assert labels.split("|") == expected and len(expected) == 2 and shown == text
    assert len(probabilities.split("|")) == 2
    inputs = write_separated_csv(tmp_path / "in.csv", multilabel_rows(6, seed=5))
    output = tmp_path / "out.csv"
    assert main(["predict", export, "--input", str(inputs), "--output", str(output)]) == 0
    assert len(output.read_text().strip().splitlines()) == 7


@pytest.mark.parametrize(
    ("layout", "writer"),
    [("separated", write_separated_csv), ("jsonl", write_jsonl_lists), ("binary", write_binary_columns)],
)  # fmt: skip
def test_each_layout_reads_as_the_same_label_sets(layout, writer, tmp_path) -> None:
    rows = multilabel_rows(60)
    path = writer(tmp_path / ("data.jsonl" if layout == "jsonl" else "data.csv"), rows)
    columns = ",".join(LABELS) if layout == "binary" else None
    splits = load_splits(str(path), label_columns=columns)
    assert splits.task == "multi_label" and splits.labels == LABELS
    every = splits.train.labels + splits.validation.labels + splits.test.labels
    assert sorted(every) == sorted(labels for _, labels in rows)


def test_multi_label_on_one_label_per_row_gives_sets_of_one(tmp_path) -> None:
    rows = [(text, (label,)) for text, (label, *_) in multilabel_rows(60)]
    splits = load_splits(str(write_separated_csv(tmp_path / "one.csv", rows)), multi_label=True)
    assert splits.task == "multi_label" and all(len(labels) == 1 for labels in splits.train.labels)


ERROR_CASES = {
    "separator that splits nothing": (
        ["--label-separator", ";"], "separated", r"--label-separator ';' splits no label"
    ),
    "0/1 column with another value": (
        ["--label-columns", "business,sport,tech"], "binary-bad", r"hold 0 or 1 \(or true/false\) only"
    ),
    "label never in training": (
        ["--test-data", "{unknown}"], "separated", r"label\(s\) \['weather'\] that the training data never uses"
    ),
    "unknown class weight": (["--class-weight", "heavy"], "separated", r"--class-weight must be one of"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(ERROR_CASES))
def test_multilabel_input_errors_exit_2(name, tmp_path, tiny_checkpoint, capsys) -> None:
    flags, layout, message = ERROR_CASES[name]
    rows = multilabel_rows(30)
    data = {
        "separated": lambda: write_separated_csv(tmp_path / "data.csv", rows),
        "binary-bad": lambda: _bad_binary(tmp_path / "data.csv", rows),
    }[layout]()
    unknown = write_separated_csv(tmp_path / "unknown.csv", [("the market .", ("weather",))])
    run_dir = tmp_path / "run"
    arguments = ["train", "--data", str(data), "--model", str(tiny_checkpoint), "--output-dir",
                 str(run_dir), "--epochs", "1", "--no-export", "--no-plots"]  # fmt: skip
    arguments += [flag.format(unknown=unknown) for flag in flags]
    status = main(arguments)
    stderr = capsys.readouterr().err
    assert status == 2, stderr
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert re.search(message, errors[0]), errors[0]
    assert not run_dir.exists()


def test_thresholds_file_that_does_not_match_the_labels_exits_2(multilabel, tmp_path, capsys):
    wrong = tmp_path / "thresholds.json"
    wrong.write_text(json.dumps({"business": 0.4, "weather": 0.5}))
    status = main(["predict", str(multilabel[1]), "a market", "--thresholds", str(wrong)])
    stderr = capsys.readouterr().err
    assert status == 2
    assert re.search(r"missing \['sport', 'tech'\]; unknown \['weather'\]", stderr), stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert main(["predict", str(multilabel[1]), "a market", "--thresholds", str(broken)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err


def _bad_binary(path: Path, rows) -> Path:
    write_binary_columns(path, rows)
    lines = path.read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ",2"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_evaluate_a_labelled_file_in_another_layout(multilabel, tmp_path) -> None:
    from kerasbert.evaluation.evaluate import evaluate_run

    run = RunDir(multilabel[0])
    lists = write_jsonl_lists(tmp_path / "holdout.jsonl", multilabel_rows(30, seed=9))
    result = evaluate_run(run.path, data=lists, plots=False)
    assert result["task"] == "multi_label" and result["num_examples"] == 30
    assert result["thresholds"] == run.read_thresholds()["thresholds"]
    assert result["micro_f1"] >= 0.85
    assert run.evaluation(lists).read_metrics()["micro_f1"] == result["micro_f1"]
    unknown = write_jsonl_lists(tmp_path / "unknown.jsonl", [("the market .", ("weather",))])
    with pytest.raises(InputError, match=r"not trained on: 'weather'"):
        evaluate_run(run.path, data=unknown, plots=False)
