"""Multi-label metrics as pure functions: multi-hot truth, sigmoid probabilities and per-label
thresholds in, JSON-ready dicts out (scikit-learn for every score).

The keys the report and the lift share with single-label runs mean the nearest thing:
`accuracy` is subset accuracy (scikit-learn's `accuracy_score` on label sets: the whole set
right), `log_loss` the mean binary cross-entropy over every (text, label) cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as sk_metrics

from kerasbert.common.decision import decide
from kerasbert.common.names import Task
from kerasbert.evaluation.metrics import per_class_scores

NO_LABEL = "(none)"


def compute_multilabel_metrics(
    y_true: np.ndarray, probabilities: np.ndarray, labels: Sequence[str], thresholds: np.ndarray
) -> dict[str, Any]:
    """Multi-label scores of thresholded sigmoid outputs.

    Args:
        y_true: multi-hot truth, shape (n, len(labels)).
        probabilities: per-label probabilities, same shape.
        labels: label names; index i names column i.
        thresholds: one threshold per label (`kerasbert.common.decision.decide`).

    Returns:
        `task`, `num_examples`, `labels`, `thresholds`, `accuracy` (= `subset_accuracy`),
        `hamming_loss`, micro/macro/weighted/samples precision, recall and F1, `per_class`
        ({label: {precision, recall, f1, support}}), `label_cardinality` ({true, predicted}),
        `cooccurrence` (rows: true label, columns: predicted label, counts of texts),
        `macro_average_precision` (threshold-free), `log_loss`, `classification_report`.
    """
    labels = list(labels)
    y_true = np.asarray(y_true).astype(np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if y_true.ndim != 2 or y_true.shape != probabilities.shape or y_true.shape[1] != len(labels):
        raise ValueError(
            f"y_true {y_true.shape} and probabilities {probabilities.shape} must both be "
            f"(examples, {len(labels)})."
        )
    if not len(y_true):
        raise ValueError("Cannot compute metrics on zero examples.")
    y_pred = decide(probabilities, thresholds).astype(np.int64)
    subset = float(sk_metrics.accuracy_score(y_true, y_pred))
    result: dict[str, Any] = {
        "task": Task.MULTI_LABEL,
        "num_examples": int(len(y_true)),
        "labels": labels,
        "thresholds": dict(zip(labels, np.asarray(thresholds, dtype=float).tolist())),
        "accuracy": subset,
        "subset_accuracy": subset,
        "hamming_loss": float(sk_metrics.hamming_loss(y_true, y_pred)),
    }
    for average in ("micro", "macro", "weighted", "samples"):
        precision, recall, f1, _ = sk_metrics.precision_recall_fscore_support(
            y_true, y_pred, average=average, zero_division=0
        )
        result[f"{average}_precision"] = float(precision)
        result[f"{average}_recall"] = float(recall)
        result[f"{average}_f1"] = float(f1)
    precision, recall, f1, support = sk_metrics.precision_recall_fscore_support(
        y_true, y_pred, average=None, zero_division=0
    )
    result["per_class"] = per_class_scores(labels, precision, recall, f1, support)
    result["label_cardinality"] = {
        "true": float(y_true.sum(axis=1).mean()),
        "predicted": float(y_pred.sum(axis=1).mean()),
    }
    result["cooccurrence"] = (y_true.T @ y_pred).tolist()
    result["true_cooccurrence"] = (y_true.T @ y_true).tolist()
    scored = y_true.sum(axis=0) > 0  # average precision is undefined without positives
    result["macro_average_precision"] = (
        float(
            sk_metrics.average_precision_score(
                y_true[:, scored], probabilities[:, scored], average="macro"
            )
        )
        if scored.any()
        else None
    )
    clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
    result["log_loss"] = float(
        -(y_true * np.log(clipped) + (1 - y_true) * np.log(1 - clipped)).mean()
    )
    result["expected_calibration_error"] = None
    result["classification_report"] = sk_metrics.classification_report(
        y_true, y_pred, target_names=labels, digits=4, zero_division=0
    )
    return result


def label_set_mistakes(
    texts: Sequence[str],
    y_true: np.ndarray,
    probabilities: np.ndarray,
    labels: Sequence[str],
    thresholds: np.ndarray,
    k: int = 10,
) -> list[dict[str, Any]]:
    """The `k` texts whose predicted label set is wrong with the most confidence.

    Confidence of a wrong set is its surest wrong decision: the largest distance to its threshold
    of a probability on the wrong side of it. Each item: `index`, `text`, `true_labels`,
    `predicted_labels` (lists), `true_label`, `predicted_label` (the sets joined for people),
    `confidence` (that wrong decision's probability, or 1 − it for a missed label).
    """
    y_true = np.asarray(y_true).astype(bool)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    y_pred = decide(probabilities, thresholds)
    wrong_cells = y_pred != y_true
    distance = np.where(wrong_cells, np.abs(probabilities - np.asarray(thresholds)[None, :]), -1.0)
    wrong = np.flatnonzero(wrong_cells.any(axis=1))
    ranked = wrong[np.argsort(-distance[wrong].max(axis=1), kind="stable")][: max(k, 0)]
    items = []
    for index in ranked:
        cell = int(distance[index].argmax())
        probability = float(probabilities[index, cell])
        true_set = [labels[i] for i in np.flatnonzero(y_true[index])]
        predicted_set = [labels[i] for i in np.flatnonzero(y_pred[index])]
        items.append(
            {
                "index": int(index),
                "text": texts[index],
                "true_labels": true_set,
                "predicted_labels": predicted_set,
                "true_label": joined(true_set),
                "predicted_label": joined(predicted_set),
                "confidence": probability if y_pred[index, cell] else 1.0 - probability,
            }
        )
    return items


def joined(label_set: Sequence[str]) -> str:
    """A label set for people: names joined by " + ", or "(none)"."""
    return " + ".join(label_set) if len(label_set) else NO_LABEL
