"""Metrics agree with scikit-learn computed independently; calibration and mistakes from first principles."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as sk_metrics

from kerasbert.common.decision import decide_labels, to_probabilities
from kerasbert.common.errors import InputError
from kerasbert.common.names import Task
from kerasbert.evaluation.metrics import (
    calibration_bins,
    compute_metrics,
    confident_mistakes,
    labels_to_ids,
)

LABELS = ["business", "entertainment", "politics", "sport", "tech"]


def random_predictions(examples: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """True ids that never use class 1 (an absent class) and noisy but informative probabilities."""
    rng = np.random.default_rng(seed)
    y_true = rng.choice([0, 2, 3, 4], size=examples)
    logits = rng.normal(0, 1.5, (examples, len(LABELS)))
    logits[np.arange(examples), y_true] += 1.5
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    # float32, as the model returns them: rows sum to 1 only within rounding.
    return y_true, probabilities.astype(np.float32)


def test_metrics_match_scikit_learn() -> None:
    y_true, probabilities = random_predictions()
    y_pred = probabilities.argmax(axis=1)
    result = compute_metrics(y_true, probabilities, LABELS)

    assert result["num_examples"] == 200
    assert result["labels"] == LABELS
    assert result["accuracy"] == pytest.approx(sk_metrics.accuracy_score(y_true, y_pred))
    class_ids = list(range(5))
    for average in ("macro", "weighted"):
        for name, function in (
            ("precision", sk_metrics.precision_score),
            ("recall", sk_metrics.recall_score),
            ("f1", sk_metrics.f1_score),
        ):
            expected = function(y_true, y_pred, labels=class_ids, average=average, zero_division=0)
            assert result[f"{average}_{name}"] == pytest.approx(expected)
    f1_per_class = sk_metrics.f1_score(
        y_true, y_pred, labels=class_ids, average=None, zero_division=0
    )
    for index, label in enumerate(LABELS):
        assert result["per_class"][label]["f1"] == pytest.approx(f1_per_class[index])
        assert result["per_class"][label]["support"] == int((y_true == index).sum())
    expected_matrix = sk_metrics.confusion_matrix(y_true, y_pred, labels=class_ids)
    assert result["confusion_matrix"] == expected_matrix.tolist()
    assert np.asarray(result["confusion_matrix"]).sum() == 200
    exact = probabilities.astype(np.float64)
    exact /= exact.sum(axis=1, keepdims=True)
    assert result["log_loss"] == pytest.approx(
        sk_metrics.log_loss(y_true, exact, labels=class_ids), rel=1e-6
    )
    assert "entertainment" in result["classification_report"]
    json.dumps(result)  # JSON-serialisable: no numpy scalars left


def test_absent_class_keeps_its_row_and_column() -> None:
    y_true, probabilities = random_predictions()
    result = compute_metrics(y_true, probabilities, LABELS)
    matrix = np.asarray(result["confusion_matrix"])
    assert matrix.shape == (5, 5)
    assert matrix[1].sum() == 0
    assert result["per_class"]["entertainment"]["support"] == 0
    normalized = np.asarray(result["confusion_matrix_normalized"])
    assert normalized[1].tolist() == [0.0] * 5
    np.testing.assert_allclose(normalized[[0, 2, 3, 4]].sum(axis=1), 1.0)


def test_expected_calibration_error_from_first_principles() -> None:
    y_true, probabilities = random_predictions(seed=3)
    result = compute_metrics(y_true, probabilities, LABELS)
    confidence = probabilities.max(axis=1).astype(np.float64)
    correct = probabilities.argmax(axis=1) == y_true
    expected = 0.0
    for lower in np.arange(10) / 10:
        members = (confidence > lower) & (confidence <= lower + 0.1)
        if members.any():
            expected += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    assert result["expected_calibration_error"] == pytest.approx(expected, abs=1e-6)
    bins = result["calibration_bins"]
    assert len(bins) == 10 and sum(item["count"] for item in bins) == 200


def test_perfect_confident_predictions_are_calibrated() -> None:
    y_true = np.array([0, 1, 1, 0])
    bins = calibration_bins(y_true, np.eye(2)[y_true])
    assert bins[-1]["count"] == 4 and bins[-1]["accuracy"] == 1.0
    result = compute_metrics(y_true, np.eye(2)[y_true], ["a", "b"])
    assert result["expected_calibration_error"] == 0.0
    assert result["accuracy"] == 1.0


@pytest.mark.parametrize(
    ("y_true", "probabilities", "message"),
    [
        ([0, 1], [[0.5, 0.5, 0.0]] * 2, "shape"),
        ([0, 1, 1], [[0.5, 0.5]] * 2, "y_true"),
        ([0, 2], [[0.5, 0.5]] * 2, "outside"),
        ([0, 1], [[2.0, -1.0]] * 2, "non-negative"),
        ([0, 1], [[3.0, 1.0]] * 2, "logits"),
    ],
)
def test_bad_inputs_are_refused(y_true, probabilities, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compute_metrics(y_true, probabilities, ["a", "b"])


def test_confident_mistakes_are_the_surest_wrong_predictions() -> None:
    texts = ["right", "wrong but unsure", "wrong and sure", "also right"]
    y_true = np.array([0, 0, 1, 1])
    probabilities = np.array([[0.9, 0.1], [0.4, 0.6], [0.95, 0.05], [0.2, 0.8]])
    mistakes = confident_mistakes(texts, y_true, probabilities, ["a", "b"], k=5)
    assert [item["text"] for item in mistakes] == ["wrong and sure", "wrong but unsure"]
    first = mistakes[0]
    assert (first["index"], first["true_label"], first["predicted_label"]) == (2, "b", "a")
    assert first["confidence"] == pytest.approx(0.95)
    assert first["true_label_probability"] == pytest.approx(0.05)
    assert len(confident_mistakes(texts, y_true, probabilities, ["a", "b"], k=1)) == 1


def test_unknown_labels_are_named_with_the_known_ones() -> None:
    with pytest.raises(InputError, match="'weather'.*knows: 'business', 'sport'"):
        labels_to_ids(["sport", "weather"], ["business", "sport"], source="new.csv")


def test_the_decision_rules_probabilities_give_the_previous_figures() -> None:
    """Evaluation's softmax moved from the training side (float32) to the decision rule
    (float64): every count is the same, every rate and loss the same to float32 rounding."""
    rng = np.random.default_rng(11)
    y_true = rng.choice([0, 2, 3, 4], size=300)
    logits = rng.normal(0.0, 2.0, (300, len(LABELS))).astype(np.float32)
    logits[np.arange(300), y_true] += 1.0
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    before = compute_metrics(
        y_true, exponentials / exponentials.sum(axis=-1, keepdims=True), LABELS
    )
    now = compute_metrics(y_true, to_probabilities(logits, Task.SINGLE_LABEL), LABELS)
    for key in ("accuracy", "macro_f1", "weighted_f1", "confusion_matrix", "per_class"):
        assert now[key] == before[key], key
    for key in ("log_loss", "expected_calibration_error"):
        assert now[key] == pytest.approx(before[key], abs=1e-6), key


def test_a_tie_is_decided_as_the_predictor_decides_it() -> None:
    """Equal top probabilities: evaluation counts the earlier label, as the predictor answers."""
    probabilities = np.array([[0.4, 0.4, 0.2], [0.1, 0.45, 0.45]])
    y_true = np.array([1, 2])
    mistakes = confident_mistakes(["first", "second"], y_true, probabilities, ["a", "b", "c"])
    predicted = decide_labels(probabilities, ["a", "b", "c"], Task.SINGLE_LABEL)
    by_index = sorted(mistakes, key=lambda item: item["index"])
    assert [item["predicted_label"] for item in by_index] == predicted == ["a", "b"]
    assert compute_metrics(y_true, probabilities, ["a", "b", "c"])["accuracy"] == 0.0
