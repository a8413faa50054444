"""Multi-label metrics against hand-counted values and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from kerasbert.evaluation.multilabel_metrics import (
    compute_multilabel_metrics,
    joined,
    label_set_mistakes,
)

LABELS = ["a", "b", "c"]
TRUTH = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 0]])
PROBABILITIES = np.array([[0.9, 0.1, 0.2], [0.8, 0.3, 0.1], [0.2, 0.1, 0.6], [0.1, 0.45, 0.0]])
THRESHOLDS = np.array([0.5, 0.4, 0.5])  # predicted: {a}, {a}, {c}, {b}


def test_scores_of_the_thresholded_sets() -> None:
    result = compute_multilabel_metrics(TRUTH, PROBABILITIES, LABELS, THRESHOLDS)
    assert result["task"] == "multi_label"
    assert result["subset_accuracy"] == result["accuracy"] == 0.75  # row 2 misses b
    assert result["hamming_loss"] == pytest.approx(1 / 12)
    # 4 true positives, 0 false positives, 1 false negative.
    assert result["micro_precision"] == 1.0 and result["micro_recall"] == pytest.approx(0.8)
    assert result["micro_f1"] == pytest.approx(2 * 0.8 / 1.8)
    assert result["per_class"]["b"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3),
        "support": 2,
    }
    assert result["macro_f1"] == pytest.approx((1 + 2 / 3 + 1) / 3)
    assert result["label_cardinality"] == {"true": 1.25, "predicted": 1.0}
    assert result["cooccurrence"] == [[2, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert result["thresholds"] == {"a": 0.5, "b": 0.4, "c": 0.5}
    assert result["expected_calibration_error"] is None and result["log_loss"] > 0


def test_mistakes_are_wrong_sets_ranked_by_their_surest_wrong_decision() -> None:
    texts = ["one", "two", "three", "four"]
    mistakes = label_set_mistakes(texts, TRUTH, PROBABILITIES, LABELS, THRESHOLDS)
    assert len(mistakes) == 1
    assert mistakes[0]["text"] == "two" and mistakes[0]["true_labels"] == ["a", "b"]
    assert mistakes[0]["predicted_label"] == "a" and mistakes[0]["true_label"] == "a + b"
    assert mistakes[0]["confidence"] == pytest.approx(0.7)
    assert joined([]) == "(none)"
