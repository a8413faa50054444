"""`score`: labels and per-label probabilities of a batch, the answer the server, the streaming
prediction and the Ray recipe all give.

The task comes from the export's metadata (`task`: `single_label` by default, `multi_label`): a
single-label model's label is its most probable one; a multi-label model's label set is every
label whose probability reaches the classifier's threshold (`kerasbert.common.decision`, the rule the
predictor's own `predict` uses), so one model call gives both the labels and the probabilities.
Imports numpy and `labelsets` only: it works on any object with `labels`, `metadata`,
`predict_proba` (and `thresholds` for multi-label), such as `kerasbert.inference.predictor.OnnxClassifier`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kerasbert.common.decision import MULTI_LABEL, SINGLE_LABEL, TASKS, label_sets

__all__ = ["MULTI_LABEL", "SINGLE_LABEL", "Scores", "score", "task_of", "top_k"]


@dataclass(frozen=True)
class Scores:
    """One batch's answer: `labels[i]` is a label (single-label) or a list of labels
    (multi-label); `probabilities[i]` has one column per label, in the classifier's label order."""

    labels: list[Any]
    probabilities: np.ndarray


def task_of(metadata: dict[str, Any]) -> str:
    """The export's task: `single_label` (exports from before multi-label carry no `task`) or
    `multi_label`."""
    task = metadata.get("task", SINGLE_LABEL)
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r} in kerasbert.json; expected one of {TASKS}.")
    return task


def score(classifier: Any, inputs: list[Any]) -> Scores:
    """Labels and probabilities of `inputs` (texts, or `(text, text_pair)` tuples), in order."""
    probabilities = classifier.predict_proba(inputs)
    if task_of(classifier.metadata) == MULTI_LABEL:
        labels = label_sets(probabilities, classifier.thresholds, classifier.labels)
        return Scores(labels, probabilities)
    labels = [classifier.labels[index] for index in np.asarray(probabilities).argmax(axis=1)]
    return Scores(labels, probabilities)


def top_k(labels: list[str], row: np.ndarray, k: int) -> list[tuple[str, float]]:
    """The `k` most probable `(label, probability)` of one row, most probable first; ties keep
    label order (as `OnnxClassifier.predict_topk`)."""
    order = np.argsort(-np.asarray(row), kind="stable")[:k]
    return [(labels[index], float(row[index])) for index in order]
