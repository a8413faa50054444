"""Multi-label decisions: sigmoid probabilities and per-label thresholds into label sets.

One rule for every place a multi-label model decides (evaluation, the export's parity and int8
checks, the predictor): label i is in a text's set when its probability is at least threshold i.
numpy and `kerasbert.common.errors` only, because the predictor uses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kerasbert.common.errors import InputError

SINGLE_LABEL, MULTI_LABEL = "single_label", "multi_label"
TASKS = (SINGLE_LABEL, MULTI_LABEL)
# A label without tuned threshold (no validation positives, or a run from before thresholds) keeps
# the point where a sigmoid output says "more likely than not".
DEFAULT_THRESHOLD = 0.5


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Per-label probabilities of multi-label logits (float64, overflow-safe)."""
    logits = np.asarray(logits, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * logits))


def check_thresholds(
    thresholds: Mapping[str, Any] | Sequence[Any], labels: Sequence[str], source: str = "thresholds"
) -> np.ndarray:
    """Thresholds as a float64 array in `labels` order, or `InputError` naming what is wrong.

    Takes a mapping `{label: threshold}` naming every label exactly, or a sequence with one
    threshold per label in `labels` order; each a number in [0, 1].
    """
    labels = list(labels)
    if isinstance(thresholds, Mapping):
        given = [str(name) for name in thresholds]
        missing = [name for name in labels if name not in thresholds]
        unknown = [name for name in given if name not in labels]
        if missing or unknown:
            raise InputError(
                f"{source} must give a threshold for each label {labels}; "
                + "; ".join(
                    part
                    for part in (
                        f"missing {missing}" if missing else "",
                        f"unknown {unknown}" if unknown else "",
                    )
                    if part
                )
                + "."
            )
        values = [thresholds[name] for name in labels]
    elif isinstance(thresholds, (str, bytes)) or not isinstance(thresholds, Sequence):
        raise InputError(
            f"{source} must map each label {labels} to a threshold, got {type(thresholds).__name__}."
        )
    else:
        values = list(thresholds)
        if len(values) != len(labels):
            raise InputError(
                f"{source} has {len(values)} thresholds but the model has {len(labels)} labels "
                f"{labels}; give one per label."
            )
    bad = [
        name
        for name, value in zip(labels, values)
        if isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating))
        or not 0.0 <= float(value) <= 1.0
    ]
    if bad:
        raise InputError(f"{source}: the thresholds of {bad} must be numbers from 0 to 1.")
    return np.asarray(values, dtype=np.float64)


def decide(probabilities: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Boolean matrix: label i applies to text n when probability[n, i] >= threshold[i]."""
    return np.asarray(probabilities) >= np.asarray(thresholds)[None, :]


def label_sets(
    probabilities: np.ndarray, thresholds: np.ndarray, labels: Sequence[str]
) -> list[list[str]]:
    """Each text's labels (in `labels` order) whose probability reaches their threshold."""
    chosen = decide(probabilities, thresholds)
    return [[labels[index] for index in np.flatnonzero(row)] for row in chosen]
