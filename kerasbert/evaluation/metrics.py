"""Classification metrics as pure functions: numbers in, JSON-ready dicts out.

`compute_metrics` is the one place a run's numbers come from: training writes its result to
`metrics.json`, the TF-IDF baseline is scored with it so both columns of the report mean the same
thing, and `kerasbert evaluate` recomputes it. Calibration, confident mistakes, label ids and the
lift over the baseline live here too. Only numpy and scikit-learn are used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as sk_metrics

from kerasbert.common.decision import best_ids
from kerasbert.common.errors import InputError

# The reliability bins and the calibration error are the training side's (it records them for the
# validation split when it fits the temperature); named here too, where the report's figures are.
from kerasbert.training.calibration import (
    CALIBRATION_BINS,
    calibration_bins,
    ece,
    expected_calibration_error,
    kept_accuracy,
    negative_log_likelihood,
)

# Metrics the lift is reported for: the headline numbers of the report's comparison table.
LIFT_METRICS = (
    "accuracy",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "weighted_f1",
    "log_loss",
    "expected_calibration_error",
)

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
    y_pred = best_ids(probabilities)
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
    result["per_class"] = per_class_scores(labels, precision, recall, f1, support)
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


def per_class_scores(labels, precision, recall, f1, support) -> dict[str, dict[str, Any]]:
    """Per-class (or per-label) precision, recall, F1 and support as a JSON-ready mapping."""
    return {
        label: {
            "precision": float(precision[index]),
            "recall": float(recall[index]),
            "f1": float(f1[index]),
            "support": int(support[index]),
        }
        for index, label in enumerate(labels)
    }


def calibration_figures(
    calibration: dict[str, Any],
    y_true: np.ndarray,
    probabilities: np.ndarray,
    raw_probabilities: np.ndarray,
) -> dict[str, Any]:
    """A calibrated run's figures on the evaluated texts, beside the validation ones training
    stored (`calibration.json`, `kerasbert.training.calibration.calibrate`).

    Returns:
        `calibration`: the temperature, the validation figures, and the test ECE and NLL before
        (`raw_probabilities`) and after (`probabilities`); `abstention`: the minimum confidence
        that reached the target accuracy on validation, and the coverage and accuracy it keeps
        here (None where no minimum reached it).
    """
    y_true = np.asarray(y_true)
    chosen = calibration.get("abstention") or {}
    minimum = chosen.get("min_confidence")
    kept = kept_accuracy(y_true, probabilities, minimum) if minimum is not None else {}
    return {
        "calibration": {
            "method": calibration["method"],
            "temperature": calibration["temperature"],
            "validation": calibration.get("validation"),
            "test": {
                "ece_before": ece(y_true, raw_probabilities),
                "ece_after": ece(y_true, probabilities),
                "nll_before": negative_log_likelihood(raw_probabilities, y_true),
                "nll_after": negative_log_likelihood(probabilities, y_true),
            },
        },
        "abstention": {
            "target_accuracy": chosen.get("target_accuracy"),
            "min_confidence": minimum,
            "validation_coverage": chosen.get("coverage"),
            "validation_accuracy": chosen.get("accuracy"),
            "test_coverage": kept.get("coverage"),
            "test_accuracy": kept.get("accuracy"),
        },
    }


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
    y_pred = best_ids(probabilities)
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


def lift(model_metrics: dict[str, Any], baseline_metrics: dict[str, Any]) -> dict[str, float]:
    """Model minus baseline for each of `LIFT_METRICS` in both (log loss: negative is better)."""
    return {
        key: float(model_metrics[key]) - float(baseline_metrics[key])
        for key in LIFT_METRICS
        if model_metrics.get(key) is not None and baseline_metrics.get(key) is not None
    }
