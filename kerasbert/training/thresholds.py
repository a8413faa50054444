"""Per-label decision thresholds of a multi-label model, tuned on the validation split.

A sigmoid output of 0.5 is the right cut only for a calibrated model with balanced labels; rare
labels usually score better lower. Each label gets the threshold on a grid from `FLOOR` to
`CEILING` that maximises its validation F1 (scikit-learn's `f1_score`); the floor keeps a label
with few validation positives from a threshold so low that it fires on everything. A label without
validation positives keeps `DEFAULT_THRESHOLD`: its F1 is 0 at every threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from kerasbert.common.decision import DEFAULT_THRESHOLD, decide

FLOOR, CEILING, STEP = 0.1, 0.9, 0.05


def threshold_grid() -> np.ndarray:
    """The candidate thresholds, FLOOR to CEILING in STEP steps (rounded: 0.35, not 0.35000001)."""
    return np.round(np.arange(FLOOR, CEILING + STEP / 2, STEP), 4)


def tune_thresholds(
    y_true: np.ndarray, probabilities: np.ndarray, labels: Sequence[str]
) -> dict[str, Any]:
    """The per-label thresholds that maximise validation F1, with the F1 curves behind them.

    Args:
        y_true: multi-hot truth, shape (n, len(labels)).
        probabilities: sigmoid outputs, same shape.
        labels: label names, index i names column i.

    Returns:
        `{"thresholds": {label: t}, "grid": [...], "f1": {label: [F1 at each grid point]},
        "validation_f1": {label: F1 at t}, "positives": {label: count}, "rule": str}`.
        Among thresholds of equal F1 the one nearest 0.5 wins, so a plateau does not push a
        label's cut to the floor or the ceiling.
    """
    y_true = np.asarray(y_true).astype(np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if y_true.shape != probabilities.shape or y_true.shape[1] != len(labels):
        raise ValueError(
            f"y_true {y_true.shape} and probabilities {probabilities.shape} must both be "
            f"(examples, {len(labels)})."
        )
    grid = threshold_grid()
    curves = np.stack(
        [
            f1_score(
                y_true,
                decide(probabilities, np.full(len(labels), cut)).astype(np.int64),
                average=None,
                zero_division=0,
            )
            for cut in grid
        ],
        axis=1,
    )  # (labels, grid)
    positives = y_true.sum(axis=0)
    chosen, best = [], []
    for index in range(len(labels)):
        if positives[index] == 0:
            chosen.append(DEFAULT_THRESHOLD)
            best.append(None)
            continue
        top = np.flatnonzero(np.isclose(curves[index], curves[index].max()))
        pick = top[np.argmin(np.abs(grid[top] - DEFAULT_THRESHOLD))]
        chosen.append(float(grid[pick]))
        best.append(float(curves[index, pick]))
    return {
        "thresholds": dict(zip(labels, chosen)),
        "grid": grid.tolist(),
        "f1": {label: curves[index].round(6).tolist() for index, label in enumerate(labels)},
        "validation_f1": dict(zip(labels, best)),
        "positives": {label: int(count) for label, count in zip(labels, positives)},
        "rule": (
            f"each label's validation-F1 maximum on {FLOOR:g}..{CEILING:g} in steps of {STEP:g} "
            f"(ties: nearest {DEFAULT_THRESHOLD:g}); {DEFAULT_THRESHOLD:g} for a label without "
            "validation positives"
        ),
        "examples": int(len(y_true)),
    }
