"""Per-label thresholds checked against the labels, and probabilities into label sets."""

from __future__ import annotations

import numpy as np
import pytest

from kerasbert.common.decision import check_thresholds, decide, label_sets, sigmoid
from kerasbert.common.errors import InputError

LABELS = ["business", "sport", "tech"]


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
