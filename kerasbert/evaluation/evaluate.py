"""`evaluate_run`: score a run's saved model on its test split or on any labelled file.

The job behind `kerasbert evaluate RUN_DIR [--data FILE]` and the evaluation phase of training:
predict with the fine-tuned TensorFlow model, compute the metrics (`kerasbert.evaluation.metrics`), fit the
TF-IDF baseline on the run's training split, and write `metrics.json`, the plots and `report.md`.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.common.decision import DEFAULT_THRESHOLD, check_thresholds
from kerasbert.common.errors import InputError
from kerasbert.common.names import Task
from kerasbert.data.examples import Examples
from kerasbert.data.readers import ColumnSpec, read_labelled
from kerasbert.evaluation.baseline import tfidf_baseline, tfidf_multilabel_baseline
from kerasbert.evaluation.metrics import compute_metrics, confident_mistakes, labels_to_ids, lift
from kerasbert.evaluation.multilabel_metrics import compute_multilabel_metrics, label_set_mistakes
from kerasbert.training.rundir import RunDir

logger = logging.getLogger(__name__)

# The training length when a run's config does not say: the model never saw positions beyond it.
DEFAULT_MAX_LENGTH = 128


def evaluate_run(
    run_dir: str | Path,
    data: str | Path | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    plots: bool = True,
    text_pair_column: str | None = None,
) -> dict[str, Any]:
    """Re-evaluate a run's saved model on its own test split or on any labelled file.

    Without `data`, predicts the test split again and rewrites the run's `metrics.json`,
    `test_probabilities.json`, plots and `report.md`, keeping the split facts that training
    stored. With `data`, writes `evaluation-<file stem>/metrics.json` and its plots inside the run
    directory. Both compare with a TF-IDF baseline trained on the run's training split.

    Args:
        run_dir: a directory written by `kerasbert train` (`kerasbert.training.fit.fit_run`).
        data: a labelled CSV/TSV/JSONL/Parquet file or class folder; None for the run's test split.
            It is read with the run's column settings (`config.json`), which the column
            arguments override; it must hold text pairs if and only if the run trained on pairs.
        text_column: text column of `data`; the run's, else auto-detected, if None.
        label_column: label column of `data`; the run's, else auto-detected, if None.
        plots: also write the PNG plots (and, for the run's own split, `report.md`).
        text_pair_column: second-text column of `data` for a run on text pairs; the run's, else
            auto-detected, if None.

    Returns:
        The metrics dict that was written.

    Raises:
        FileNotFoundError: `run_dir` is not a complete run directory.
        InputError: `data` has a label the model was not trained on, or holds single texts for
            a model of text pairs (or the reverse).

    Example:
    >>> evaluate_run("runs/bbc-news-20261126-101500")["accuracy"]  # doctest: +SKIP
    0.9765
    """
    run = RunDir(run_dir)
    if not run.exists():
        raise FileNotFoundError(f"Run directory {run.path} does not exist.")
    labels = run.read_labels()
    config = run.read_config()
    multi_label = is_multi_label(run)
    if data is None:
        examples = run.read_split("test")
        source, output = str(run.split_path("test")), run
    else:
        given = _evaluation_columns(run, config, text_column, text_pair_column, label_column)
        examples = _read_evaluation_data(str(data), given, config, _takes_pairs(run), run.name)
        source, output = str(data), run.evaluation(data)
    if multi_label:
        return evaluate_multilabel(run, examples, labels, config, data, source, output, plots)
    texts, names = examples.texts, examples.labels
    # Refuse unknown labels before paying for the model load.
    y_true = labels_to_ids(names, labels, source=source)
    if not texts:
        raise InputError(f"{source} has no labelled rows to evaluate.")

    max_length = int(config.get("max_length", DEFAULT_MAX_LENGTH))
    truncation = config.get("truncation", "head")
    windows = (config.get("long_documents", "truncate") == "windows", config.get("window_overlap"))
    probabilities = _predict(run, examples, max_length, truncation, source, windows)
    result = compute_metrics(y_true, probabilities, labels)
    result["confident_mistakes"] = confident_mistakes(
        examples.display_texts(), y_true, probabilities, labels
    )
    _record_source(result, run, data, output, probabilities, source)
    if run.split_path("train").is_file():
        train = run.read_split("train")
        result["baseline"] = tfidf_baseline(
            train.texts,
            train.labels,
            texts,
            names,
            labels,
            seed=int(config.get("seed", 42)),
            train_pairs=train.text_pairs,
            test_pairs=examples.text_pairs,
            class_weight=_applied_class_weight(run),
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
        shown = examples.display_texts()
        _write_plots(run, output, data, result, shown, y_true, probabilities, labels)
    return result


def _applied_class_weight(run: RunDir) -> str | None:
    """ "balanced" when the run weighed its classes (its data summary says), so the baseline it is
    compared with weighs them the same way; else None."""
    imbalance = run.read_data_summary().get("imbalance") or {}
    return "balanced" if imbalance.get("resolved") == "balanced" else None


def is_multi_label(run: RunDir) -> bool:
    """Whether the run's model is multi-label (its data summary says, else its test split)."""
    summary = run.read_data_summary()
    if "task" in summary:
        return summary["task"] == Task.MULTI_LABEL
    return run.split_path("test").is_file() and run.read_split("test").multi_label


def _evaluation_columns(
    run: RunDir, config: dict[str, Any], text_column, text_pair_column, label_column
) -> ColumnSpec:
    """How to read a labelled file for this run: a multi-label run's label format is its own."""
    if not is_multi_label(run):
        return ColumnSpec(text_column, text_pair_column, label_column, multi_label=False)
    columns = run.read_data_summary().get("columns") or {}
    return ColumnSpec(
        text_column,
        text_pair_column,
        label_column,
        None if label_column else config.get("label_columns"),
        multi_label=True,
        label_separator=config.get("label_separator") or columns.get("label_separator"),
        strict=False,
    )


def evaluate_multilabel(
    run: RunDir,
    examples: Examples,
    labels: list[str],
    config: dict[str, Any],
    data: str | Path | None,
    source: str,
    output: RunDir,
    plots: bool,
) -> dict[str, Any]:
    """`evaluate_run` for a multi-label run: sigmoid probabilities, the run's tuned thresholds
    (`thresholds.json`; 0.5 for a run without), multi-label metrics and the one-vs-rest
    baseline thresholded by the same rule on the run's validation split."""
    unknown = {name for names in examples.label_sets() for name in names} - set(labels)
    if unknown:
        labels_to_ids(sorted(unknown), labels, source=source)  # raises, naming them
    if not examples.texts:
        raise InputError(f"{source} has no labelled rows to evaluate.")
    y_true = Examples(examples.texts, examples.label_sets()).label_ids(labels)
    tuned = run.read_thresholds()
    thresholds = (
        check_thresholds(tuned["thresholds"], labels, str(run.thresholds))
        if tuned
        else np.full(len(labels), DEFAULT_THRESHOLD)
    )
    max_length = int(config.get("max_length", DEFAULT_MAX_LENGTH))
    truncation = config.get("truncation", "head")
    windows = (config.get("long_documents", "truncate") == "windows", config.get("window_overlap"))
    probabilities = _predict(run, examples, max_length, truncation, source, windows, True)
    result = compute_multilabel_metrics(y_true, probabilities, labels, thresholds)
    result["thresholds_from"] = "validation" if tuned else "default 0.5"
    result["confident_mistakes"] = label_set_mistakes(
        examples.display_texts(), y_true, probabilities, labels, thresholds
    )
    _record_source(result, run, data, output, probabilities, source)
    if run.split_path("train").is_file():
        result["baseline"] = tfidf_multilabel_baseline(
            _split_inputs(run.read_split("train"), labels),
            _split_inputs(run.read_split("validation"), labels)
            if run.split_path("validation").is_file()
            else None,
            (_inputs(examples), y_true),
            labels,
            seed=int(config.get("seed", 42)),
            class_weight=_applied_class_weight(run),
        )
        result["lift"] = lift(result, result["baseline"])
    output.write_metrics(result)
    logger.info(
        "Micro-F1 %.4f, macro-F1 %.4f, subset accuracy %.4f, Hamming loss %.4f on %d texts; "
        "metrics in %s",
        result["micro_f1"],
        result["macro_f1"],
        result["subset_accuracy"],
        result["hamming_loss"],
        result["num_examples"],
        output.metrics,
    )
    if plots:
        from kerasbert.evaluation.plots_multilabel import write_multilabel_plots

        dataset = "the test set" if data is None else Path(data).name
        write_multilabel_plots(run, result, output.plots, dataset, with_history=data is None)
        if data is None:
            from kerasbert.evaluation.report import write_report

            write_report(run.path)
    return result


def _inputs(examples: Examples) -> list[Any]:
    pairs = examples.text_pairs
    return list(examples.texts) if pairs is None else list(zip(examples.texts, pairs))


def _split_inputs(examples: Examples, labels: list[str]) -> tuple[list[Any], np.ndarray]:
    return _inputs(examples), Examples(examples.texts, examples.label_sets()).label_ids(labels)


def _record_source(result, run: RunDir, data, output: RunDir, probabilities, source: str) -> None:
    """Where the scores come from; for the run's own test split also its split facts and the
    probabilities the export is later checked against."""
    result["source"] = source
    if data is None:
        summary = run.read_data_summary()
        for key in ("split_sizes", "duplicates_dropped"):
            if key in summary:
                result[key] = summary[key]
        run.write_test_probabilities(probabilities)
    else:
        output.path.mkdir(parents=True, exist_ok=True)


def _takes_pairs(run: RunDir) -> bool:
    """Whether the run's model classifies text pairs (its data summary says, else its test split)."""
    summary = run.read_data_summary()
    if "pair" in summary:
        return bool(summary["pair"])
    return run.split_path("test").is_file() and run.read_split("test").text_pairs is not None


def _read_evaluation_data(
    data: str, given: ColumnSpec, config: dict[str, Any], pair: bool, run_name: str
) -> Examples:
    """A labelled file to evaluate on, refused unless it holds what the model classifies.

    Columns not `given` are the run's (`config.json`); a file without the run's columns is read
    with the given ones alone, the rest detected from common names.
    """
    run_columns = dataclasses.replace(
        given,
        text=given.text or config.get("text_column"),
        text_pair=given.text_pair or config.get("text_pair_column"),
        label=given.label or config.get("label_column"),
    )
    try:
        read = read_labelled(data, run_columns)
    except InputError:
        if run_columns == given:
            raise
        read = read_labelled(data, given)
    if pair and read.text_pairs is None:
        raise InputError(
            f"{data} holds single texts, but run {run_name} classifies text pairs; name the "
            "columns of the two texts with --text-column and --text-pair-column."
        )
    if not pair and read.text_pairs is not None:
        found = f"columns {read.columns.get('text')!r} and {read.columns.get('text_pair')!r}"
        raise InputError(
            f"{data} holds text pairs ({found}), but run {run_name} classifies single texts; "
            "name its one text column with --text-column (and give no --text-pair-column)."
        )
    return Examples(read.texts, read.labels, read.text_pairs)


def _predict(
    run: RunDir,
    examples: Examples,
    max_length: int,
    truncation: str,
    source: str,
    windows: tuple[bool, int | None] = (False, None),
    multi_label: bool = False,
) -> np.ndarray:
    """Class probabilities of the run's saved TensorFlow model for the texts (or text pairs);
    per-label sigmoid probabilities for a multi-label run."""
    from kerasbert.training.checkpoint import load_trained_model
    from kerasbert.training.pipeline import predict_probabilities

    if not run.model.is_dir():
        raise FileNotFoundError(f"{run.model} does not exist; the run has no saved model.")
    logger.info("Predicting %d texts from %s with %s", len(examples), source, run.model)
    model, tokenizer = load_trained_model(run.model)
    probabilities = predict_probabilities(
        model,
        tokenizer,
        examples.texts,
        max_length,
        text_pairs=examples.text_pairs,
        truncation=truncation,
        windows=windows[0],
        window_overlap=windows[1],
        multi_label=multi_label,
    )
    return np.asarray(probabilities)


def _write_plots(run, output, data, result, texts, y_true, probabilities, labels) -> None:
    from kerasbert.evaluation import plots as plotting

    if data is None:
        from kerasbert.evaluation.report import write_report

        plotting.write_plots(run.path)
        write_report(run.path)
    else:
        plotting.write_evaluation_plots(
            result, texts, y_true, probabilities, labels, output.plots, dataset=Path(data).name
        )
