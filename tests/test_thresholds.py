"""Per-label thresholds tuned on validation data: each label's F1 maximum, within the floor."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from kerasbert.training.thresholds import CEILING, FLOOR, threshold_grid, tune_thresholds

LABELS = ["a", "b", "c"]


def test_each_label_gets_the_threshold_of_its_best_validation_f1() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, size=(200, 3))
    truth[:, 2] = 0  # label c: no validation positives
    # Label a separates at 0.3 (positives 0.3-0.45, negatives below 0.25); b at 0.7.
    probabilities = np.where(truth == 1, rng.uniform(0.31, 0.45, truth.shape), 0.0)
    probabilities[:, 0] += np.where(truth[:, 0] == 0, rng.uniform(0.0, 0.25, 200), 0.0)
    probabilities[:, 1] = np.where(
        truth[:, 1] == 1, rng.uniform(0.72, 0.95, 200), rng.uniform(0.4, 0.68, 200)
    )
    probabilities[:, 2] = rng.uniform(0, 1, 200)

    tuned = tune_thresholds(truth, probabilities, LABELS)

    a, b, c = (tuned["thresholds"][label] for label in LABELS)
    assert 0.25 <= a <= 0.3 and 0.7 <= b <= 0.72
    assert c == 0.5 and tuned["validation_f1"]["c"] is None and tuned["positives"]["c"] == 0
    assert tuned["validation_f1"]["a"] == 1.0 and tuned["validation_f1"]["b"] == 1.0
    # The stored curve is scikit-learn's F1 at each grid point.
    grid = tuned["grid"]
    point = grid.index(0.5)
    expected = f1_score(truth[:, 1], probabilities[:, 1] >= 0.5)
    assert abs(tuned["f1"]["b"][point] - expected) < 1e-6


def test_thresholds_stay_within_the_floor_and_ceiling() -> None:
    grid = threshold_grid()
    assert grid[0] == FLOOR and grid[-1] == CEILING and 0.5 in grid.tolist()
    # Positives at 0.12 and 0.04: 0.03 would catch both, but the floor does not go there.
    truth = np.array([[1], [1], [0], [0]])
    probabilities = np.array([[0.12], [0.04], [0.01], [0.0]])
    assert tune_thresholds(truth, probabilities, ["a"])["thresholds"]["a"] == FLOOR


def test_a_plateau_keeps_the_threshold_nearest_one_half() -> None:
    truth = np.array([[1], [0]])
    probabilities = np.array([[0.95], [0.05]])  # every cut from 0.1 to 0.9 is perfect
    assert tune_thresholds(truth, probabilities, ["a"])["thresholds"]["a"] == 0.5
