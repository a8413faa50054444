"""`evaluate_run`: score a run's saved model on its test split or on any labelled file.

The job behind `kerasbert evaluate RUN_DIR [--data FILE]` and the evaluation phase of training:
predict with the fine-tuned TensorFlow model, compute the metrics (`kerasbert.metrics`), fit the
TF-IDF baseline on the run's training split, and write `metrics.json`, the plots and `report.md`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.baseline import tfidf_baseline
from kerasbert.errors import InputError
from kerasbert.metrics import compute_metrics, confident_mistakes, labels_to_ids, lift
from kerasbert.readers import read_labelled_file
from kerasbert.rundir import RunDir

logger = logging.getLogger(__name__)

# The training length when a run's config does not say: the model never saw positions beyond it.
DEFAULT_MAX_LENGTH = 128


def evaluate_run(
    run_dir: str | Path,
    data: str | Path | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    plots: bool = True,
) -> dict[str, Any]:
    """Re-evaluate a run's saved model on its own test split or on any labelled file.

    Without `data`, predicts the test split again and rewrites the run's `metrics.json`,
    `test_probabilities.json`, plots and `report.md`, keeping the split facts that training
    stored. With `data`, writes `evaluation-<file stem>/metrics.json` and its plots inside the run
    directory. Both compare with a TF-IDF baseline trained on the run's training split.

    Args:
        run_dir: a directory written by `kerasbert train` (`kerasbert.train.fit_run`).
        data: a labelled CSV/TSV/JSONL/Parquet file or class folder; None for the run's test split.
        text_column: text column of `data`; auto-detected if None.
        label_column: label column of `data`; auto-detected if None.
        plots: also write the PNG plots (and, for the run's own split, `report.md`).

    Returns:
        The metrics dict that was written.

    Raises:
        FileNotFoundError: `run_dir` is not a complete run directory.
        InputError: `data` has a label the model was not trained on.

    Example:
    >>> evaluate_run("runs/bbc-news-20261126-101500")["accuracy"]  # doctest: +SKIP
    0.9765
    """
    run = RunDir(run_dir)
    if not run.exists():
        raise FileNotFoundError(f"Run directory {run.path} does not exist.")
    labels = run.read_labels()
    config = run.read_config()
    if data is None:
        test = run.read_split("test")
        texts, names, source = test.texts, test.labels, str(run.split_path("test"))
        output = run
    else:
        texts, names = read_labelled_file(data, text_column, label_column)
        source, output = str(data), run.evaluation(data)
    # Refuse unknown labels before paying for the model load.
    y_true = labels_to_ids(names, labels, source=source)
    if not texts:
        raise InputError(f"{source} has no labelled rows to evaluate.")

    probabilities = _predict(run, texts, int(config.get("max_length", DEFAULT_MAX_LENGTH)), source)
    result = compute_metrics(y_true, probabilities, labels)
    result["confident_mistakes"] = confident_mistakes(texts, y_true, probabilities, labels)
    result["source"] = source
    if data is None:
        summary = run.read_data_summary()
        for key in ("split_sizes", "duplicates_dropped"):
            if key in summary:
                result[key] = summary[key]
        run.write_test_probabilities(probabilities)
    else:
        output.path.mkdir(parents=True, exist_ok=True)
    if run.split_path("train").is_file():
        train = run.read_split("train")
        result["baseline"] = tfidf_baseline(
            train.texts, train.labels, texts, names, labels, seed=int(config.get("seed", 42))
        )
        result["lift"] = lift(result, result["baseline"])
    output.write_metrics(result)
    logger.info(
        "Accuracy %.4f, macro-F1 %.4f on %d texts; metrics in %s",
        result["accuracy"],
        result["macro_f1"],
        result["num_examples"],
        output.metrics,
    )
    if plots:
        _write_plots(run, output, data, result, texts, y_true, probabilities, labels)
    return result


def _predict(run: RunDir, texts: list[str], max_length: int, source: str) -> np.ndarray:
    """Class probabilities of the run's saved TensorFlow model for `texts`."""
    from kerasbert.checkpoint import load_trained_model
    from kerasbert.pipeline import predict_probabilities

    if not run.model.is_dir():
        raise FileNotFoundError(f"{run.model} does not exist; the run has no saved model.")
    logger.info("Predicting %d texts from %s with %s", len(texts), source, run.model)
    model, tokenizer = load_trained_model(run.model)
    return np.asarray(predict_probabilities(model, tokenizer, texts, max_length))


def _write_plots(run, output, data, result, texts, y_true, probabilities, labels) -> None:
    from kerasbert import plots as plotting

    if data is None:
        from kerasbert.report import write_report

        plotting.write_plots(run.path)
        write_report(run.path)
    else:
        plotting.write_evaluation_plots(
            result, texts, y_true, probabilities, labels, output.plots, dataset=Path(data).name
        )
