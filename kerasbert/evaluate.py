"""Test-set metrics from scikit-learn, calibration, confident mistakes and `evaluate_run`.

`compute_metrics` is the one place a run's numbers come from: training writes its result to
`metrics.json`, the TF-IDF baseline reuses it so both columns of the report mean the same thing, and
`evaluate_run` (the `kerasbert evaluate RUN_DIR [--data FILE]` command) recomputes it from a saved
model on the run's own test split or on any labelled file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import metrics as sk_metrics

from kerasbert.data import read_jsonl, read_labelled_file
from kerasbert.errors import InputError
from kerasbert.files import read_json, write_json

logger = logging.getLogger(__name__)

# Ten equal-width confidence bins is the usual reliability-diagram resolution (Guo et al., 2017);
# finer bins leave most of them empty on test sets of a few hundred texts.
CALIBRATION_BINS = 10

# Softmax outputs in float32 (or float16 under mixed precision) sum to 1 only approximately;
# anything further off is not a probability vector at all.
_PROBABILITY_SUM_TOLERANCE = 1e-2


def compute_metrics(
    y_true: np.ndarray | Sequence[int],
    probabilities: np.ndarray | Sequence[Sequence[float]],
    labels: Sequence[str],
    num_bins: int = CALIBRATION_BINS,
) -> dict[str, Any]:
    """Classification metrics for predicted class probabilities, as a JSON-serialisable dict.

    Every class in `labels` keeps its row and column, also when the test set has no example of it,
    so matrices and per-class tables line up with `labels.json`.

    Args:
        y_true: true class ids, shape `(n,)`, each in `[0, len(labels))`.
        probabilities: predicted probabilities, shape `(n, len(labels))`, rows summing to 1.
        labels: class names; index i names class id i.
        num_bins: equal-width confidence bins for the expected calibration error.

    Returns:
        `accuracy`, `macro_*`/`weighted_*` precision, recall and F1, `per_class`
        ({label: {precision, recall, f1, support}}), `confusion_matrix` and
        `confusion_matrix_normalized` (rows = true class), `labels`, `classification_report`
        (text), `log_loss`, `expected_calibration_error`, `calibration_bins` and `num_examples`.

    Example:
    >>> result = compute_metrics([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], ["neg", "pos"])
    >>> round(result["accuracy"], 3), result["confusion_matrix"]
    (0.667, [[1, 0], [1, 1]])
    """
    labels = list(labels)
    y_true, probabilities = _validate(y_true, probabilities, labels)
    y_pred = probabilities.argmax(axis=1)
    class_ids = list(range(len(labels)))

    precision, recall, f1, support = sk_metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=class_ids, average=None, zero_division=0
    )
    result: dict[str, Any] = {
        "num_examples": int(len(y_true)),
        "labels": labels,
        "accuracy": float(sk_metrics.accuracy_score(y_true, y_pred)),
    }
    for average in ("macro", "weighted"):
        averaged = sk_metrics.precision_recall_fscore_support(
            y_true, y_pred, labels=class_ids, average=average, zero_division=0
        )
        result[f"{average}_precision"] = float(averaged[0])
        result[f"{average}_recall"] = float(averaged[1])
        result[f"{average}_f1"] = float(averaged[2])
    result["per_class"] = {
        label: {
            "precision": float(precision[index]),
            "recall": float(recall[index]),
            "f1": float(f1[index]),
            "support": int(support[index]),
        }
        for index, label in enumerate(labels)
    }
    result["confusion_matrix"] = sk_metrics.confusion_matrix(
        y_true, y_pred, labels=class_ids
    ).tolist()
    result["confusion_matrix_normalized"] = sk_metrics.confusion_matrix(
        y_true, y_pred, labels=class_ids, normalize="true"
    ).tolist()
    result["classification_report"] = sk_metrics.classification_report(
        y_true, y_pred, labels=class_ids, target_names=labels, digits=4, zero_division=0
    )
    result["log_loss"] = float(sk_metrics.log_loss(y_true, probabilities, labels=class_ids))
    bins = calibration_bins(y_true, probabilities, num_bins)
    result["expected_calibration_error"] = expected_calibration_error(bins)
    result["calibration_bins"] = bins
    return result


def calibration_bins(
    y_true: np.ndarray, probabilities: np.ndarray, num_bins: int = CALIBRATION_BINS
) -> list[dict[str, Any]]:
    """Group predictions by top-class confidence into `num_bins` equal-width bins over [0, 1].

    Each bin is `{lower, upper, count, confidence, accuracy}`; `confidence` and `accuracy` are the
    bin's mean top-class probability and share of correct predictions, `None` for an empty bin.
    scikit-learn's `calibration_curve` covers binary problems only, hence this function.
    """
    if num_bins < 1:
        raise ValueError(f"num_bins must be a positive integer, got {num_bins!r}.")
    y_true = np.asarray(y_true)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    # Bins are (lower, upper]; a confidence of exactly 0 cannot occur for a top class.
    bin_index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, num_bins - 1)
    bins = []
    for index in range(num_bins):
        members = bin_index == index
        count = int(members.sum())
        bins.append(
            {
                "lower": float(edges[index]),
                "upper": float(edges[index + 1]),
                "count": count,
                "confidence": float(confidence[members].mean()) if count else None,
                "accuracy": float(correct[members].mean()) if count else None,
            }
        )
    return bins


def expected_calibration_error(bins: Sequence[dict[str, Any]]) -> float:
    """Count-weighted mean gap |accuracy − confidence| over `calibration_bins` output."""
    total = sum(item["count"] for item in bins)
    if total == 0:
        return 0.0
    gap = sum(
        item["count"] * abs(item["accuracy"] - item["confidence"]) for item in bins if item["count"]
    )
    return float(gap / total)


def confident_mistakes(
    texts: Sequence[str],
    y_true: np.ndarray | Sequence[int],
    probabilities: np.ndarray | Sequence[Sequence[float]],
    labels: Sequence[str],
    k: int = 10,
) -> list[dict[str, Any]]:
    """The `k` wrong predictions the model was surest of, most confident first.

    Each item is `{index, text, true_label, predicted_label, confidence, true_label_probability}`,
    where `index` is the position in `texts` and `confidence` the predicted class's probability.
    """
    labels = list(labels)
    y_true, probabilities = _validate(y_true, probabilities, labels)
    if len(texts) != len(y_true):
        raise ValueError(f"Got {len(texts)} texts but {len(y_true)} labels; they must match.")
    y_pred = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    # Stable sort keeps file order among ties, so the list is reproducible.
    ranked = wrong[np.argsort(-confidence[wrong], kind="stable")][: max(k, 0)]
    return [
        {
            "index": int(index),
            "text": texts[index],
            "true_label": labels[y_true[index]],
            "predicted_label": labels[y_pred[index]],
            "confidence": float(confidence[index]),
            "true_label_probability": float(probabilities[index, y_true[index]]),
        }
        for index in ranked
    ]


def labels_to_ids(names: Sequence[str], labels: Sequence[str], source: str = "data") -> np.ndarray:
    """Map label names to class ids, raising `InputError` that names any label the model lacks."""
    index = {label: position for position, label in enumerate(labels)}
    unknown = sorted({str(name) for name in names if name not in index})
    if unknown:
        raise InputError(
            f"{source} has label(s) the model was not trained on: {', '.join(map(repr, unknown))}. "
            f"The model knows: {', '.join(map(repr, labels))}. Rename or drop those rows."
        )
    return np.array([index[name] for name in names], dtype=np.int64)


def evaluate_run(
    run_dir: str | Path,
    data: str | Path | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    plots: bool = True,
) -> dict[str, Any]:
    """Re-evaluate a run's saved model on its own test split or on any labelled file.

    Without `data`, predicts `data/test.jsonl` again and rewrites the run's `metrics.json`,
    `test_probabilities.json`, plots and `report.md`, keeping the baseline and split facts that
    training stored. With `data`, writes `evaluation-<file stem>/metrics.json` and its plots inside
    the run directory, with a TF-IDF baseline trained on the run's training split for comparison.

    Args:
        run_dir: a directory written by `kerasbert.train.train`.
        data: a labelled CSV/TSV/JSONL/Parquet file or class folder; None for the run's test split.
        text_column: text column of `data`; auto-detected if None.
        label_column: label column of `data`; auto-detected if None.
        plots: also write the PNG plots (and, for the run's own split, `report.md`).

    Returns:
        The metrics dict that was written.

    Raises:
        FileNotFoundError: `run_dir` is not a complete run directory.
        InputError: `data` has a label the model was not trained on.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"Run directory {run_dir} does not exist.")
    labels = read_json(run_dir / "labels.json")
    config_path = run_dir / "config.json"
    config = read_json(config_path) if config_path.is_file() else {}

    if data is None:
        test = read_jsonl(run_dir / "data" / "test.jsonl")
        texts, names = test.texts, test.labels
        source = str(run_dir / "data" / "test.jsonl")
        output_dir = run_dir
    else:
        texts, names = read_labelled_file(data, text_column, label_column)
        source = str(data)
        output_dir = run_dir / f"evaluation-{Path(data).stem}"
    # Refuse unknown labels before paying for the model load.
    y_true = labels_to_ids(names, labels, source=source)
    if not texts:
        raise InputError(f"{source} has no labelled rows to evaluate.")

    from kerasbert.checkpoint import load_trained_model
    from kerasbert.pipeline import predict_probabilities

    model_dir = run_dir / "model"
    if not model_dir.is_dir():
        raise FileNotFoundError(f"{model_dir} does not exist; the run has no saved model.")
    logger.info("Predicting %d texts from %s with %s", len(texts), source, model_dir)
    model, tokenizer = load_trained_model(model_dir)
    # The training length: the model never saw positions beyond it.
    max_length = int(config.get("max_length", 128))
    probabilities = np.asarray(predict_probabilities(model, tokenizer, texts, max_length))

    result = compute_metrics(y_true, probabilities, labels)
    result["confident_mistakes"] = confident_mistakes(texts, y_true, probabilities, labels)
    result["source"] = source

    from kerasbert.baseline import lift

    if data is None:
        # Split facts come from training's records; the baseline is refit below (seconds).
        summary_path = run_dir / "data_summary.json"
        summary = read_json(summary_path) if summary_path.is_file() else {}
        for key in ("split_sizes", "duplicates_dropped"):
            if key in summary:
                result[key] = summary[key]
        write_json(run_dir / "test_probabilities.json", probabilities.round(6).tolist())
    else:
        output_dir.mkdir(parents=True, exist_ok=True)
    train_path = run_dir / "data" / "train.jsonl"
    if train_path.is_file():
        from kerasbert.baseline import tfidf_baseline

        train = read_jsonl(train_path)
        result["baseline"] = tfidf_baseline(
            train.texts, train.labels, texts, names, labels, seed=int(config.get("seed", 42))
        )
    if "baseline" in result:
        result["lift"] = lift(result, result["baseline"])
    write_json(output_dir / "metrics.json", result)
    logger.info(
        "Accuracy %.4f, macro-F1 %.4f on %d texts; metrics in %s",
        result["accuracy"],
        result["macro_f1"],
        result["num_examples"],
        output_dir / "metrics.json",
    )

    if plots:
        from kerasbert import plots as plotting

        if data is None:
            from kerasbert.report import write_report

            plotting.write_plots(run_dir)
            write_report(run_dir)
        else:
            plotting.write_evaluation_plots(
                result,
                texts,
                y_true,
                probabilities,
                labels,
                output_dir / "plots",
                dataset=Path(data).name,
            )
    return result


def _validate(
    y_true: np.ndarray | Sequence[int],
    probabilities: np.ndarray | Sequence[Sequence[float]],
    labels: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes and ranges; return int64 ids and float64 rows renormalised to sum to 1."""
    y_true = np.asarray(y_true)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if len(labels) < 2:
        raise ValueError(f"Need at least two class labels, got {list(labels)!r}.")
    if probabilities.ndim != 2 or probabilities.shape[1] != len(labels):
        raise ValueError(
            f"probabilities must have shape (examples, {len(labels)}), got {probabilities.shape}."
        )
    if y_true.ndim != 1 or len(y_true) != len(probabilities):
        raise ValueError(
            f"y_true must be a 1-D array of {len(probabilities)} class ids, "
            f"got shape {y_true.shape}."
        )
    if len(y_true) == 0:
        raise ValueError("Cannot compute metrics on zero examples.")
    if not np.issubdtype(y_true.dtype, np.integer):
        raise ValueError(f"y_true must hold integer class ids, got dtype {y_true.dtype}.")
    if y_true.min() < 0 or y_true.max() >= len(labels):
        raise ValueError(f"y_true holds class ids outside [0, {len(labels)}).")
    if not np.isfinite(probabilities).all() or (probabilities < 0).any():
        raise ValueError("probabilities must be finite and non-negative.")
    sums = probabilities.sum(axis=1)
    if np.abs(sums - 1.0).max() > _PROBABILITY_SUM_TOLERANCE:
        raise ValueError(
            "probabilities rows must sum to 1 (pass softmax outputs, not logits); "
            f"found a row summing to {sums[np.abs(sums - 1.0).argmax()]:.4f}."
        )
    return y_true.astype(np.int64), probabilities / sums[:, None]
