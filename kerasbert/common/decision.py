"""The decision rule: logits into probabilities, probabilities into labels, one way everywhere.

Evaluation, the export's parity and int8 checks, the training side's predictions and the
predictor (with the server, the streaming prediction and the Ray recipe behind it) all decide
through these functions, so a model's label never depends on which of them asked:

- probabilities: a single-label model's softmax over its logits divided by its temperature (1
  unless fitted on the validation split: `kerasbert.training.calibration`), a multi-label
  model's sigmoid per label; both computed in float64, whatever the logits' precision;
- a single-label model's label is its most probable one (a tie goes to the earlier label);
  below a caller's minimum confidence (its top probability) it is None: the model abstains;
- a multi-label model's labels are every label i whose probability reaches threshold i;
- the top k labels are ranked by probability, ties kept in label order.

numpy and `kerasbert.common` only, because the predictor uses it.

Example:
>>> import numpy as np
>>> probabilities = to_probabilities(np.array([[2.0, 0.0, 1.0]]), Task.SINGLE_LABEL)
>>> decide_labels(probabilities, ["a", "b", "c"], Task.SINGLE_LABEL)
['a']
>>> top_k(probabilities, ["a", "b", "c"], 2)[0][1][0]
'c'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kerasbert.common.errors import InputError
from kerasbert.common.names import Task

# A label without tuned threshold (no validation positives, or a run from before thresholds) keeps
# the point where a sigmoid output says "more likely than not".
DEFAULT_THRESHOLD = 0.5


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities of single-label logits, one row per text (float64; the row maximum is
    subtracted first, so large logits cannot overflow)."""
    logits = np.asarray(logits, dtype=np.float64)
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Per-label probabilities of multi-label logits (float64, overflow-safe)."""
    logits = np.asarray(logits, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * logits))


def to_probabilities(logits: np.ndarray, task: Task | str, temperature: float = 1.0) -> np.ndarray:
    """A model's logits as probabilities (float64): softmax of `logits / temperature` for
    `single_label`, sigmoid per label for `multi_label` (whose thresholds were tuned on raw
    sigmoids, so it takes no temperature). Dividing by one positive scalar keeps every row's
    order, so the temperature never changes a single-label model's label."""
    check_temperature(temperature)
    if Task(task) is Task.MULTI_LABEL:
        if temperature != 1.0:
            raise ValueError("a multi-label model's probabilities take no temperature.")
        return sigmoid(logits)
    return softmax(np.asarray(logits, dtype=np.float64) / temperature)


def check_temperature(temperature: Any, source: str = "temperature") -> float:
    """The temperature as a float, or `InputError` unless it is a finite number above 0."""
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float, np.floating))
        or not np.isfinite(temperature)
        or temperature <= 0
    ):
        raise InputError(f"{source} must be a finite number above 0, got {temperature!r}.")
    return float(temperature)


def check_min_confidence(value: Any, source: str = "min_confidence") -> float | None:
    """A minimum confidence as a float in [0, 1], None for none, else `InputError`."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating))
        or not 0.0 <= float(value) <= 1.0
    ):
        raise InputError(f"{source} must be a number from 0 to 1, got {value!r}.")
    return float(value)


def confidence(probabilities: np.ndarray) -> np.ndarray:
    """A single-label model's confidence in each text's label: its top probability."""
    return np.asarray(probabilities).max(axis=1)


def abstain(labels: Sequence[Any], probabilities: np.ndarray, min_confidence: float | None) -> list:
    """`labels` with None where the text's confidence (`confidence`) is below `min_confidence`
    (single-label only: a multi-label model's empty set already says "none of them")."""
    if min_confidence is None:
        return list(labels)
    keep = confidence(probabilities) >= min_confidence
    return [label if kept else None for label, kept in zip(labels, keep, strict=True)]


def best_ids(probabilities: np.ndarray) -> np.ndarray:
    """Each row's most probable label id; among equal probabilities, the earlier label."""
    return np.asarray(probabilities).argmax(axis=1)


def decide(probabilities: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Boolean matrix: label i applies to text n when probability[n, i] >= threshold[i]."""
    return np.asarray(probabilities) >= np.asarray(thresholds)[None, :]


def label_sets(
    probabilities: np.ndarray, thresholds: np.ndarray, labels: Sequence[str]
) -> list[list[str]]:
    """Each text's labels (in `labels` order) whose probability reaches their threshold."""
    chosen = decide(probabilities, thresholds)
    return [[labels[index] for index in np.flatnonzero(row)] for row in chosen]


def decide_labels(
    probabilities: np.ndarray,
    labels: Sequence[str],
    task: Task | str,
    thresholds: np.ndarray | None = None,
) -> list[str] | list[list[str]]:
    """Each text's label (`single_label`: the most probable) or list of labels (`multi_label`:
    those reaching their `thresholds`, in `labels` order, possibly none)."""
    if Task(task) is Task.MULTI_LABEL:
        if thresholds is None:
            raise ValueError("a multi-label decision needs one threshold per label.")
        return label_sets(probabilities, thresholds, labels)
    return [labels[index] for index in best_ids(probabilities)]


def top_k(
    probabilities: np.ndarray, labels: Sequence[str], k: int
) -> list[list[tuple[str, float]]]:
    """Each row's `k` most probable `(label, probability)`, most probable first; equal
    probabilities keep label order."""
    probabilities = np.asarray(probabilities)
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [
        [(labels[index], float(row[index])) for index in indices]
        for row, indices in zip(probabilities, order, strict=True)
    ]


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
