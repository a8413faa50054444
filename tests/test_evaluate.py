"""`evaluate_run` end to end on a tiny trained run: its test split, a labelled file, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import CLASS_WORDS, tiny_texts, write_csv
from sklearn import metrics as sk_metrics

from kerasbert.common.errors import InputError
from kerasbert.evaluation.evaluate import evaluate_run
from kerasbert.training.rundir import PLOT_FILES

LABELS = ["business", "entertainment", "politics", "sport", "tech"]


def _trained_run_dir(root: Path, tiny_checkpoint: Path) -> Path:
    """A run directory holding an (untrained) classifier saved as `train` saves it."""
    from kerasbert.training.checkpoint import load_classifier, load_tokenizer

    labels = sorted(CLASS_WORDS)
    run_dir = root / "run"
    (run_dir / "data").mkdir(parents=True)
    model = load_classifier(str(tiny_checkpoint), labels)
    model.save_pretrained(str(run_dir / "model"))
    load_tokenizer(str(tiny_checkpoint)).save_pretrained(str(run_dir / "model"))
    (run_dir / "labels.json").write_text(json.dumps(labels))
    (run_dir / "config.json").write_text(json.dumps({"max_length": 32, "seed": 0}))
    for split, rows in (("train", tiny_texts(20, seed=1)), ("test", tiny_texts(5, seed=2))):
        with (run_dir / "data" / f"{split}.jsonl").open("w") as file:
            for text, label in rows:
                file.write(json.dumps({"text": text, "label": label}) + "\n")
    summary = {"split_sizes": {"train": 60, "test": 15}, "duplicates_dropped": 0}
    (run_dir / "data_summary.json").write_text(json.dumps(summary))
    return run_dir


def test_evaluate_run_on_its_test_split_and_on_a_file(
    tmp_path: Path, tiny_checkpoint: Path
) -> None:
    run_dir = _trained_run_dir(tmp_path, tiny_checkpoint)

    own = evaluate_run(run_dir)
    # No history.json: no training curves; no calibration.json: no "before calibration" diagram.
    assert sorted(path.name for path in (run_dir / "plots").glob("*.png")) == sorted(
        PLOT_FILES[role]
        for role in (
            "confusion_matrix",
            "per_class_metrics",
            "reliability",
            "coverage",
            "sample_predictions",
        )
    )
    assert f"{own['accuracy']:.4f}" in (run_dir / "report.md").read_text()
    written = json.loads((run_dir / "metrics.json").read_text())
    assert written["accuracy"] == pytest.approx(own["accuracy"])
    assert written["num_examples"] == 15
    assert written["split_sizes"] == {"train": 60, "test": 15}, "training facts are kept"
    assert written["baseline"]["num_examples"] == 15 and "macro_f1" in written["lift"]
    probabilities = np.asarray(json.loads((run_dir / "test_probabilities.json").read_text()))
    assert probabilities.shape == (15, 3)
    y_true = [json.loads(line)["label"] for line in (run_dir / "data" / "test.jsonl").open()]
    expected = sk_metrics.accuracy_score(
        [sorted(CLASS_WORDS).index(label) for label in y_true], probabilities.argmax(axis=1)
    )
    assert own["accuracy"] == pytest.approx(expected)

    external = write_csv(tmp_path / "holdout.csv", tiny_texts(4, seed=5))
    result = evaluate_run(run_dir, data=external)
    output = run_dir / "evaluation-holdout"
    assert json.loads((output / "metrics.json").read_text())["num_examples"] == 12
    assert result["baseline"]["num_examples"] == 12 and "macro_f1" in result["lift"]
    assert sorted(path.name for path in (output / "plots").glob("*.png")) == [
        "accuracy_coverage.png",
        "confusion_matrix.png",
        "per_class_metrics.png",
        "reliability.png",
        "sample_predictions.png",
    ]


def test_a_run_from_before_a_setting_existed_evaluates_with_its_default(
    tmp_path: Path, tiny_checkpoint: Path
) -> None:
    """An older config.json lacks `truncation`, `long_documents` and `seed`: each takes
    TrainConfig's default, so the scores equal those of the run with the defaults written out."""
    from kerasbert.config import TrainConfig
    from kerasbert.training.rundir import RunDir

    run_dir = _trained_run_dir(tmp_path, tiny_checkpoint)
    run = RunDir(run_dir)
    # 16 tokens cut most test texts, so which end is kept changes the scores.
    (run_dir / "config.json").write_text(json.dumps({"max_length": 16}))
    older = evaluate_run(run_dir, plots=False)
    older_probabilities = run.read_test_probabilities()

    run.write_config(TrainConfig(max_length=16))
    assert _scores(evaluate_run(run_dir, plots=False)) == _scores(older)
    np.testing.assert_array_equal(run.read_test_probabilities(), older_probabilities)

    run.write_config(TrainConfig(max_length=16, truncation="tail"))
    evaluate_run(run_dir, plots=False)
    # The untrained head's probabilities move in the sixth decimal, which is stored.
    assert not np.array_equal(run.read_test_probabilities(), older_probabilities), (
        "the truncation setting must be read: else the equality above proves nothing"
    )


def _scores(metrics: dict) -> dict:
    """The metrics without the baseline's fit time, which no two runs share."""
    return {**metrics, "baseline": {**metrics["baseline"], "fit_seconds": None}}


def test_evaluate_run_refuses_unknown_labels_before_loading_the_model(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "labels.json").write_text(json.dumps(["business", "sport", "tech"]))
    data = write_csv(tmp_path / "new.csv", [("rain again", "weather"), ("goal", "sport")])
    with pytest.raises(InputError, match="'weather'.*'business', 'sport', 'tech'"):
        evaluate_run(run_dir, data=data)


def test_evaluate_run_needs_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        evaluate_run(tmp_path / "missing")


@pytest.fixture(scope="module")
def pair_run(tiny_pair) -> Path:
    return tiny_pair.run_dir


def test_evaluate_a_file_of_pairs_through_the_cli(pair_run: Path, tmp_path: Path, capsys) -> None:
    from tiny_pair_fixtures import PAIR_LABELS, pair_rows, write_pair_csv

    from kerasbert.cli import main
    from kerasbert.training.rundir import RunDir

    rows = pair_rows(30, seed=9)
    # The run's own columns (question1/question2, from its config.json): no flags needed.
    same = evaluate_run(pair_run, data=write_pair_csv(tmp_path / "same.csv", rows), plots=False)
    renamed = write_pair_csv(tmp_path / "renamed.csv", rows, columns=("q1", "q2", "label"))
    status = main(
        ["evaluate", str(pair_run), "--data", str(renamed), "--text-column", "q1",
         "--text-pair-column", "q2", "--no-plots"]
    )  # fmt: skip
    assert status == 0
    written = RunDir(pair_run).evaluation(renamed).read_metrics()
    assert written["num_examples"] == 30 and f"{written['accuracy']:.4f}" in capsys.readouterr().out
    assert written["accuracy"] == pytest.approx(same["accuracy"]) and written["accuracy"] > 0.7
    assert written["labels"] == PAIR_LABELS
    assert "elementwise product" in written["baseline"]["model"]

    singles = write_csv(tmp_path / "singles.csv", [(first, label) for first, _, label in rows])
    with pytest.raises(InputError, match="holds single texts, but run .* classifies text pairs"):
        evaluate_run(pair_run, data=singles)
    with pytest.raises(InputError, match="no column 'q2' \\(from --text-pair-column\\)"):
        evaluate_run(pair_run, data=singles, text_pair_column="q2")


def test_single_text_run_refuses_a_file_of_pairs(tmp_path: Path, tiny_checkpoint: Path) -> None:
    from tiny_pair_fixtures import pair_rows, write_pair_csv

    run_dir = _trained_run_dir(tmp_path, tiny_checkpoint)
    pairs = write_pair_csv(tmp_path / "pairs.csv", pair_rows(6))
    with pytest.raises(InputError, match="holds text pairs .*'question1' and 'question2'"):
        evaluate_run(run_dir, data=pairs)
