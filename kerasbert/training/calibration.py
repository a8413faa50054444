"""Temperature scaling: one scalar, fitted on the validation split, so probabilities mean what
they say.

A fine-tuned network's softmax is over-confident. Dividing its logits by one temperature T > 0
(Guo et al., 2017) keeps every text's label (the order of a row's logits does not change) and
makes the top probability track the share of correct answers. T minimises the validation split's
negative log-likelihood: scipy's bounded `minimize_scalar` over log T, so T stays positive and a
factor too hot costs as much as one too cold.

The reliability bins and the expected calibration error live here too, so training can record the
validation figures before and after; evaluation (`kerasbert.evaluation.metrics`) reports the test
split's with the same functions. numpy and scipy only: no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

from kerasbert.common.decision import best_ids, to_probabilities
from kerasbert.common.names import Task

# Ten equal-width confidence bins is the usual reliability-diagram resolution (Guo et al., 2017);
# finer bins leave most of them empty on test sets of a few hundred texts.
CALIBRATION_BINS = 10
# T from 1/20 to 20: far past any temperature a fine-tuned classifier needs (Guo et al. report
# 1 to 3), and bounded so a separable validation split cannot push it to 0 or infinity.
LOG_TEMPERATURE_BOUNDS = (float(np.log(0.05)), float(np.log(20.0)))
METHOD = "temperature"


def negative_log_likelihood(probabilities: np.ndarray, label_ids: np.ndarray) -> float:
    """Mean −log p(true label); probabilities are clipped at 1e-15, as scikit-learn's log loss."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    label_ids = np.asarray(label_ids, dtype=np.int64)
    picked = probabilities[np.arange(len(label_ids)), label_ids]
    return float(-np.log(np.clip(picked, 1e-15, 1.0)).mean())


def _nll_of_logits(logits: np.ndarray, label_ids: np.ndarray, temperature: float) -> float:
    # log-softmax directly: no probability rounds to 0 however confident the logit.
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    log_probabilities = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
    return float(-log_probabilities[np.arange(len(label_ids)), label_ids].mean())


def fit_temperature(logits: np.ndarray, label_ids: np.ndarray) -> float:
    """The temperature T > 0 that minimises the mean NLL of softmax(logits / T) on `label_ids`.

    Args:
        logits: single-label logits, shape `(n, classes)`.
        label_ids: true class ids, shape `(n,)`.
    """
    logits = np.asarray(logits, dtype=np.float64)
    label_ids = np.asarray(label_ids, dtype=np.int64)
    if logits.ndim != 2 or len(logits) != len(label_ids) or not len(label_ids):
        raise ValueError(
            f"logits {logits.shape} need one row per label id ({len(label_ids)}), at least one."
        )
    result = minimize_scalar(
        lambda log_temperature: _nll_of_logits(logits, label_ids, np.exp(log_temperature)),
        bounds=LOG_TEMPERATURE_BOUNDS,
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(result.x))


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
    correct = best_ids(probabilities) == y_true
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


def ece(label_ids: np.ndarray, probabilities: np.ndarray) -> float:
    """Expected calibration error over `CALIBRATION_BINS` bins."""
    return expected_calibration_error(calibration_bins(label_ids, probabilities))


def calibrate(logits: np.ndarray, label_ids: np.ndarray) -> dict[str, Any]:
    """Fit the temperature on validation logits; the record `calibration.json` stores.

    Returns:
        `{"method": "temperature", "temperature": T, "examples": n, "validation": {"nll_before",
        "nll_after", "ece_before", "ece_after"}, "abstention": confidence_for_accuracy(...)}`,
        the abstention on the calibrated validation probabilities.
    """
    temperature = fit_temperature(logits, label_ids)
    before = to_probabilities(logits, Task.SINGLE_LABEL)
    after = to_probabilities(logits, Task.SINGLE_LABEL, temperature)
    return {
        "method": METHOD,
        "temperature": temperature,
        "examples": int(len(label_ids)),
        "validation": {
            "nll_before": negative_log_likelihood(before, label_ids),
            "nll_after": negative_log_likelihood(after, label_ids),
            "ece_before": ece(label_ids, before),
            "ece_after": ece(label_ids, after),
        },
        "abstention": confidence_for_accuracy(label_ids, after),
    }


# Abstention: keep a text's label only when its confidence reaches a minimum. The report names the
# smallest minimum whose kept validation texts reach this accuracy.
TARGET_ACCURACY = 0.99


def coverage_curve(label_ids: np.ndarray, probabilities: np.ndarray) -> dict[str, list[float]]:
    """Accuracy against coverage when texts below a minimum confidence get no label.

    One point per distinct confidence c, highest first: the texts whose top probability is at
    least c (the rule `kerasbert.common.decision.abstain` keeps), their share of all texts
    (`coverage`) and the share of them labelled right (`accuracy`).

    Returns:
        `{"min_confidence": [...], "coverage": [...], "accuracy": [...]}`, coverage rising.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidences = probabilities.max(axis=1)
    correct = (best_ids(probabilities) == np.asarray(label_ids)).astype(np.float64)
    order = np.argsort(-confidences, kind="stable")
    sorted_confidences, sorted_correct = confidences[order], correct[order]
    kept = np.arange(1, len(order) + 1)
    # At equal confidences only the last of them is a point: c keeps all of them or none.
    last_of_tie = np.append(sorted_confidences[1:] != sorted_confidences[:-1], True)
    return {
        "min_confidence": sorted_confidences[last_of_tie].tolist(),
        "coverage": (kept / len(order))[last_of_tie].tolist(),
        "accuracy": (np.cumsum(sorted_correct) / kept)[last_of_tie].tolist(),
    }


def confidence_for_accuracy(
    label_ids: np.ndarray, probabilities: np.ndarray, target: float = TARGET_ACCURACY
) -> dict[str, Any]:
    """The lowest minimum confidence whose kept texts reach `target` accuracy (so the most
    coverage), with that coverage and accuracy; `min_confidence` None when no minimum does."""
    curve = coverage_curve(label_ids, probabilities)
    reaching = [index for index, value in enumerate(curve["accuracy"]) if value >= target]
    if not reaching:
        return {
            "target_accuracy": target,
            "min_confidence": None,
            "coverage": 0.0,
            "accuracy": None,
        }
    best = reaching[-1]
    return {
        "target_accuracy": target,
        "min_confidence": curve["min_confidence"][best],
        "coverage": curve["coverage"][best],
        "accuracy": curve["accuracy"][best],
    }


def kept_accuracy(
    label_ids: np.ndarray, probabilities: np.ndarray, min_confidence: float
) -> dict[str, Any]:
    """Coverage and accuracy of the texts whose confidence reaches `min_confidence`."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    kept = probabilities.max(axis=1) >= min_confidence
    correct = best_ids(probabilities) == np.asarray(label_ids)
    return {
        "min_confidence": float(min_confidence),
        "coverage": float(kept.mean()) if len(kept) else 0.0,
        "accuracy": float(correct[kept].mean()) if kept.any() else None,
    }
