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

from kerasbert.common.errors import InputError
from kerasbert.data.examples import Examples
from kerasbert.data.readers import ColumnSpec, read_labelled
from kerasbert.evaluation.baseline import tfidf_baseline, tfidf_multilabel_baseline
from kerasbert.evaluation.metrics import (
    calibration_figures,
    compute_metrics,
    confident_mistakes,
    labels_to_ids,
    lift,
)
from kerasbert.evaluation.multilabel_metrics import compute_multilabel_metrics, label_set_mistakes
from kerasbert.training.rundir import RunDir, RunRecord

logger = logging.getLogger(__name__)


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
    record = run.read_record()
    task = _MultiLabel(run, record) if record.multi_label else _SingleLabel(run, record)
    if data is None:
        examples = run.read_split("test")
        source, output = str(run.split_path("test")), run
    else:
        given = task.columns(text_column, text_pair_column, label_column)
        examples = _read_evaluation_data(str(data), given, record, run.name)
        source, output = str(data), run.evaluation(data)
    # Refuse unknown labels before paying for the model load.
    y_true = task.truth(examples, source)
    if not examples.texts:
        raise InputError(f"{source} has no labelled rows to evaluate.")

    # A calibrated run predicts twice: with its temperature (what it answers) and without (the
    # raw softmax, for the calibration figures before and after).
    loaded = _load_model(run, source, len(examples))
    probabilities, *raw = _predict(loaded, examples, record, task.temperatures)
    raw_probabilities = raw[0] if raw else None
    result = task.score(examples, y_true, probabilities, raw_probabilities)
    result["source"] = source
    if plots and data is None:
        # Before the report is written: it shows the words behind the surest mistakes.
        from kerasbert.evaluation.explained import explain_test_split

        result["explanations"] = explain_test_split(
            loaded[0], run, record, examples, y_true, probabilities, task.cuts
        )
    if data is None:
        # The run's own test split: keep the split facts training stored, and the probabilities
        # the export is later checked against.
        facts = (
            ("split_sizes", record.split_sizes),
            ("duplicates_dropped", record.duplicates_dropped),
        )
        result.update({key: value for key, value in facts if value is not None})
        run.write_test_probabilities(probabilities)
    else:
        output.path.mkdir(parents=True, exist_ok=True)
    if run.split_path("train").is_file():
        result["baseline"] = task.baseline(run, examples, y_true)
        result["lift"] = lift(result, result["baseline"])
    output.write_metrics(result)
    task.log(result, output)
    if plots:
        task.write_plots(
            run, output, data, result, examples, y_true, probabilities, raw_probabilities
        )
        if data is None:
            from kerasbert.evaluation.report import write_report

            write_report(run.path)
    return result


class _Task:
    """The parts of `evaluate_run` that differ between single- and multi-label runs."""

    # The temperatures to predict with: the run's own first.
    temperatures: tuple[float, ...] = (1.0,)
    # Per-label decision thresholds (multi-label); None where the decision is the argmax.
    cuts: np.ndarray | None = None

    def __init__(self, record: RunRecord) -> None:
        self.record = record
        self.labels = list(record.labels)


class _SingleLabel(_Task):
    """A single-label run: class ids, softmax metrics (divided by the temperature of a calibrated
    run, with the calibration and abstention figures), the TF-IDF logistic regression baseline
    and the confusion-matrix plots."""

    def __init__(self, run: RunDir, record: RunRecord) -> None:
        super().__init__(record)
        self.calibration = run.read_calibration()
        if self.calibration is not None:
            self.temperatures = (float(self.calibration["temperature"]), 1.0)

    def columns(self, text: str | None, text_pair: str | None, label: str | None) -> ColumnSpec:
        return ColumnSpec(text, text_pair, label, multi_label=False)

    def truth(self, examples: Examples, source: str) -> np.ndarray:
        return labels_to_ids(examples.labels, self.labels, source=source)

    def score(
        self, examples: Examples, y_true, probabilities: np.ndarray, raw=None
    ) -> dict[str, Any]:
        result = compute_metrics(y_true, probabilities, self.labels)
        if raw is not None:
            result.update(calibration_figures(self.calibration, y_true, probabilities, raw))
        result["confident_mistakes"] = confident_mistakes(
            examples.display_texts(), y_true, probabilities, self.labels
        )
        return result

    def baseline(self, run: RunDir, examples: Examples, y_true) -> dict[str, Any]:
        train = run.read_split("train")
        return tfidf_baseline(
            train.texts,
            train.labels,
            examples.texts,
            examples.labels,
            self.labels,
            seed=self.record.settings.seed,
            train_pairs=train.text_pairs,
            test_pairs=examples.text_pairs,
            class_weight=self.record.class_weight,
        )

    def log(self, result: dict[str, Any], output: RunDir) -> None:
        logger.info(
            "Accuracy %.4f, macro-F1 %.4f on %d texts; metrics in %s",
            result["accuracy"],
            result["macro_f1"],
            result["num_examples"],
            output.metrics,
        )

    def write_plots(
        self, run, output, data, result, examples, y_true, probabilities, raw=None
    ) -> None:
        from kerasbert.evaluation import plots as plotting

        if data is None:
            plotting.write_plots(run.path, raw)
        else:
            plotting.write_evaluation_plots(
                result,
                examples.display_texts(),
                y_true,
                probabilities,
                self.labels,
                output.plots,
                dataset=Path(data).name,
                raw_probabilities=raw,
            )


class _MultiLabel(_Task):
    """A multi-label run: multi-hot truth, sigmoid
    probabilities cut by the run's tuned thresholds (`thresholds.json`; 0.5 for a run without),
    multi-label metrics, and the one-vs-rest baseline thresholded by the same rule on the run's
    validation split."""

    def __init__(self, run: RunDir, record: RunRecord) -> None:
        super().__init__(record)
        self.thresholds = run.read_label_thresholds(self.labels)
        self.cuts = self.thresholds.values

    def columns(self, text: str | None, text_pair: str | None, label: str | None) -> ColumnSpec:
        # The run's own label format, unless another label column is named.
        settings = self.record.settings
        return ColumnSpec(
            text,
            text_pair,
            label,
            None if label else settings.label_columns,
            multi_label=True,
            label_separator=self.record.label_separator,
            strict=False,
        )

    def truth(self, examples: Examples, source: str) -> np.ndarray:
        unknown = {name for names in examples.label_sets() for name in names} - set(self.labels)
        if unknown:
            labels_to_ids(sorted(unknown), self.labels, source=source)  # raises, naming them
        return _multi_hot(examples, self.labels)

    def score(
        self, examples: Examples, y_true, probabilities: np.ndarray, raw=None
    ) -> dict[str, Any]:
        cuts = self.thresholds.values
        result = compute_multilabel_metrics(y_true, probabilities, self.labels, cuts)
        result["thresholds_from"] = "validation" if self.thresholds.tuned else "default 0.5"
        result["confident_mistakes"] = label_set_mistakes(
            examples.display_texts(), y_true, probabilities, self.labels, cuts
        )
        return result

    def baseline(self, run: RunDir, examples: Examples, y_true) -> dict[str, Any]:
        train = run.read_split("train")
        validation = (
            run.read_split("validation") if run.split_path("validation").is_file() else None
        )
        return tfidf_multilabel_baseline(
            (_inputs(train), _multi_hot(train, self.labels)),
            None
            if validation is None
            else (_inputs(validation), _multi_hot(validation, self.labels)),
            (_inputs(examples), y_true),
            self.labels,
            seed=self.record.settings.seed,
            class_weight=self.record.class_weight,
        )

    def log(self, result: dict[str, Any], output: RunDir) -> None:
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

    def write_plots(
        self, run, output, data, result, examples, y_true, probabilities, raw=None
    ) -> None:
        from kerasbert.evaluation.plots_multilabel import write_multilabel_plots

        dataset = "the test set" if data is None else Path(data).name
        write_multilabel_plots(run, result, output.plots, dataset, with_history=data is None)


def _inputs(examples: Examples) -> list[Any]:
    pairs = examples.text_pairs
    return list(examples.texts) if pairs is None else list(zip(examples.texts, pairs))


def _multi_hot(examples: Examples, labels: list[str]) -> np.ndarray:
    return Examples(examples.texts, examples.label_sets()).label_ids(labels)


def _read_evaluation_data(
    data: str, given: ColumnSpec, record: RunRecord, run_name: str
) -> Examples:
    """A labelled file to evaluate on, refused unless it holds what the model classifies.

    Columns not `given` are the run's (`config.json`); a file without the run's columns is read
    with the given ones alone, the rest detected from common names.
    """
    settings, pair = record.settings, record.pair
    run_columns = dataclasses.replace(
        given,
        text=given.text or settings.text_column,
        text_pair=given.text_pair or settings.text_pair_column,
        label=given.label or settings.label_column,
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


def _load_model(run: RunDir, source: str, count: int):
    """The run's saved TensorFlow model and tokenizer."""
    from kerasbert.training.checkpoint import load_trained_model

    if not run.model.is_dir():
        raise FileNotFoundError(f"{run.model} does not exist; the run has no saved model.")
    logger.info("Predicting %d texts from %s with %s", count, source, run.model)
    return load_trained_model(run.model)


def _predict(
    loaded,
    examples: Examples,
    record: RunRecord,
    temperatures: tuple[float, ...] = (1.0,),
) -> list[np.ndarray]:
    """Class probabilities of the run's saved TensorFlow model (`loaded`: model, tokenizer) for
    the texts (or text pairs), encoded as the run trained (`record.settings`), one matrix per
    temperature; per-label sigmoid probabilities for a multi-label run."""
    from kerasbert.training.pipeline import predict_probabilities

    model, tokenizer = loaded
    settings = record.settings
    return [
        np.asarray(
            predict_probabilities(
                model,
                tokenizer,
                examples.texts,
                settings.max_length,
                text_pairs=examples.text_pairs,
                truncation=settings.truncation,
                windows=settings.long_documents == "windows",
                window_overlap=settings.window_overlap,
                multi_label=record.multi_label,
                temperature=temperature,
            )
        )
        for temperature in temperatures
    ]
