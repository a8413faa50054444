"""Tests for `kerasbert.common.decision`: logits into probabilities, probabilities into labels
(argmax or per-label thresholds), top k; and the `Task` names it decides by."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kerasbert.common.decision import (
    best_ids,
    check_thresholds,
    decide,
    decide_labels,
    label_sets,
    sigmoid,
    softmax,
    to_probabilities,
    top_k,
)
from kerasbert.common.errors import InputError
from kerasbert.common.names import Task

LABELS = ["business", "sport", "tech"]


def _previous_predictor_softmax(logits: np.ndarray) -> np.ndarray:
    """The predictor's float64 softmax before the decision rule moved here, kept as reference."""
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def test_softmax_equals_the_previous_float64_softmax_exactly() -> None:
    rng = np.random.default_rng(7)
    logits = (rng.normal(0.0, 4.0, (256, 5))).astype(np.float32)
    probabilities = softmax(logits)
    assert probabilities.dtype == np.float64
    assert np.array_equal(probabilities, _previous_predictor_softmax(logits))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # The training side's old float32 softmax agrees to float32 rounding.
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    old_float32 = exponentials / exponentials.sum(axis=-1, keepdims=True)
    assert old_float32.dtype == np.float32
    np.testing.assert_allclose(probabilities, old_float32, rtol=0, atol=1e-6)


def test_softmax_is_stable_for_large_logits() -> None:
    probabilities = softmax(np.array([[1000.0, 0.0, -1000.0], [5000.0, 5000.0, 4000.0]]))
    assert probabilities.tolist() == [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]


def test_probabilities_by_task() -> None:
    logits = np.array([[2.0, -1.0, 0.0]], dtype=np.float32)
    assert np.array_equal(to_probabilities(logits, Task.SINGLE_LABEL), softmax(logits))
    assert np.array_equal(to_probabilities(logits, "multi_label"), sigmoid(logits))
    assert to_probabilities(logits, Task.MULTI_LABEL)[0, 0] == pytest.approx(1 / (1 + np.exp(-2)))
    with pytest.raises(ValueError, match="'x' is not a valid Task"):
        to_probabilities(logits, "x")


def test_single_label_picks_the_most_probable_and_ties_go_to_the_earlier_label() -> None:
    probabilities = np.array([[0.2, 0.5, 0.3], [0.4, 0.2, 0.4], [1 / 3, 1 / 3, 1 / 3]])
    assert best_ids(probabilities).tolist() == [1, 0, 0]
    assert decide_labels(probabilities, LABELS, Task.SINGLE_LABEL) == [
        "sport",
        "business",
        "business",
    ]


def test_multi_label_sets_by_threshold() -> None:
    probabilities = np.array([[0.9, 0.1, 0.3], [0.2, 0.8, 0.29], [0.0, 0.0, 0.0]])
    thresholds = np.array([0.5, 0.5, 0.3])
    assert decide_labels(probabilities, LABELS, Task.MULTI_LABEL, thresholds) == [
        ["business", "tech"],
        ["sport"],
        [],
    ]
    # Lower one label's threshold and only that label joins the sets that reach it.
    lowered = np.array([0.5, 0.05, 0.3])
    assert decide_labels(probabilities, LABELS, Task.MULTI_LABEL, lowered) == [
        ["business", "sport", "tech"],
        ["sport"],
        [],
    ]
    with pytest.raises(ValueError, match="needs one threshold per label"):
        decide_labels(probabilities, LABELS, Task.MULTI_LABEL)


def test_top_k_ranks_by_probability_with_ties_in_label_order() -> None:
    probabilities = np.array([[0.25, 0.5, 0.25], [0.1, 0.3, 0.6], [0.3, 0.3, 0.3]])
    assert top_k(probabilities, LABELS, 2) == [
        [("sport", 0.5), ("business", 0.25)],
        [("tech", 0.6), ("sport", 0.3)],
        [("business", 0.3), ("sport", 0.3)],
    ]
    ranked = top_k(probabilities, LABELS, 3)
    assert [[name for name, _ in row] for row in ranked][2] == LABELS
    assert all(isinstance(value, float) for row in ranked for _, value in row)


def test_task_is_its_json_string() -> None:
    assert Task.MULTI_LABEL == "multi_label" and Task("single_label") is Task.SINGLE_LABEL
    assert json.dumps({"task": Task.MULTI_LABEL}) == '{"task": "multi_label"}'
    assert f"{Task.SINGLE_LABEL}" == str(Task.SINGLE_LABEL) == "single_label"


def test_thresholds_in_label_order_from_a_mapping_or_a_list() -> None:
    mapping = {"tech": 0.3, "business": 0.5, "sport": 0.7}
    assert check_thresholds(mapping, LABELS).tolist() == [0.5, 0.7, 0.3]
    assert check_thresholds([0.5, 0.7, 0.3], LABELS).tolist() == [0.5, 0.7, 0.3]


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"business": 0.5, "sport": 0.5}, r"each label \['business', 'sport', 'tech'\]; missing \['tech'\]"),
        ({"business": 0.5, "sport": 0.5, "tech": 0.5, "art": 0.5}, r"unknown \['art'\]"),
        ([0.5, 0.5], r"has 2 thresholds but the model has 3 labels"),
        ({"business": 1.5, "sport": 0.5, "tech": "x"}, r"thresholds of \['business', 'tech'\] must be numbers from 0 to 1"),
        ("0.5", r"must map each label"),
    ],
)  # fmt: skip
def test_thresholds_that_do_not_match_the_labels_are_refused(thresholds, message) -> None:
    with pytest.raises(InputError, match=message):
        check_thresholds(thresholds, LABELS)


def test_a_label_is_chosen_at_or_above_its_own_threshold() -> None:
    probabilities = np.array([[0.5, 0.69, 0.31], [0.1, 0.7, 0.29], [0.0, 0.0, 0.0]])
    thresholds = np.array([0.5, 0.7, 0.3])
    assert decide(probabilities, thresholds).tolist() == [
        [True, False, True],
        [False, True, False],
        [False, False, False],
    ]
    assert label_sets(probabilities, thresholds, LABELS) == [["business", "tech"], ["sport"], []]


def test_sigmoid_is_stable_for_large_logits() -> None:
    values = sigmoid(np.array([[-1000.0, 0.0, 1000.0]]))
    assert values.tolist() == [[0.0, 0.5, 1.0]]
