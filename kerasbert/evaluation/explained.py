"""The test texts a run's report explains, and the files that hold their explanations.

A report that lists the mistakes the model was surest of says *what* went wrong, not *why*. The
evaluation job therefore explains, with integrated gradients on the run's own TensorFlow model
(`kerasbert.evaluation.attributions`), its surest mistakes on the test split and, for every label,
the texts it was surest of and got right: what the model keys on when it is right is what tells a
reader whether a mistake is a lapse or a habit. They go to `explanations.jsonl` (one explanation
per line, with the text's position in the test split, its truth and whether it was a mistake) and
`explanations.html` (the highlighted words, self-contained); `metrics.json` keeps a summary with
the completeness check, and `report.md` shows the top words of each.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from kerasbert.common.decision import best_ids, decide
from kerasbert.data.examples import Examples
from kerasbert.evaluation.attributions import DEFAULT_STEPS, explain_with_model
from kerasbert.inference.highlight import to_html
from kerasbert.training.rundir import RunDir, RunRecord

logger = logging.getLogger(__name__)

# Enough to show a pattern without making evaluation pay for a second pass over the test split:
# each text is one batch of `DEFAULT_STEPS + 1` forward passes and a backward pass per label.
MISTAKES = 5
CORRECT_PER_LABEL = 2
# Integrated gradients' sum is held to the logit difference within this share (completeness).
COMPLETENESS_TOLERANCE = 0.05


def pick_texts(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    labels: Sequence[str],
    thresholds: np.ndarray | None = None,
    mistakes: int = MISTAKES,
    correct_per_label: int = CORRECT_PER_LABEL,
) -> list[dict[str, Any]]:
    """The test texts to explain: the `mistakes` surest wrong answers, then per label the
    `correct_per_label` surest right ones, each `{index, kind, true, predicted, confidence}`.

    Single-label: `y_true` holds class ids and confidence is the predicted class's probability.
    Multi-label (`thresholds` given): `y_true` is multi-hot, a text is right when its whole
    predicted set is, and a right text counts for each label of its set at that label's
    probability. Ties keep test-split order, so the choice is reproducible.

    >>> pick_texts(np.array([0, 1, 1]), np.array([[.9, .1], [.8, .2], [.3, .7]]), ["a", "b"])
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'index': 1, 'kind': 'mistake', 'true': ['b'], 'predicted': ['a'], 'confidence': 0.8},
     {'index': 0, 'kind': 'correct', 'true': ['a'], 'predicted': ['a'], 'confidence': 0.9},
     {'index': 2, 'kind': 'correct', 'true': ['b'], 'predicted': ['b'], 'confidence': 0.7}]
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if thresholds is None:
        predicted = best_ids(probabilities)
        truth = np.zeros_like(probabilities, dtype=bool)
        truth[np.arange(len(y_true)), np.asarray(y_true)] = True
        decided = np.zeros_like(truth)
        decided[np.arange(len(predicted)), predicted] = True
        confidence = probabilities.max(axis=1)
    else:
        truth = np.asarray(y_true).astype(bool)
        decided = decide(probabilities, thresholds)
        # A wrong set's confidence: its surest wrong decision, as the report's mistakes list.
        wrong_cells = decided != truth
        confidence = np.where(
            wrong_cells, np.abs(probabilities - np.asarray(thresholds)[None, :]), -1.0
        ).max(axis=1)
    wrong = np.flatnonzero((decided != truth).any(axis=1))
    ranked = wrong[np.argsort(-confidence[wrong], kind="stable")][:mistakes]
    picked = [
        _item(index, "mistake", truth, decided, labels, confidence[index]) for index in ranked
    ]
    right = np.flatnonzero(~(decided != truth).any(axis=1))
    for label in range(len(labels)):
        holders = right[truth[right, label]]
        ranked = holders[np.argsort(-probabilities[holders, label], kind="stable")]
        picked.extend(
            _item(index, "correct", truth, decided, labels, probabilities[index, label])
            for index in ranked[:correct_per_label]
        )
    return picked


def _item(index, kind, truth, decided, labels, confidence) -> dict[str, Any]:
    return {
        "index": int(index),
        "kind": kind,
        "true": [labels[i] for i in np.flatnonzero(truth[index])],
        "predicted": [labels[i] for i in np.flatnonzero(decided[index])],
        "confidence": round(float(confidence), 6),
    }


def explain_test_split(
    model,
    run: RunDir,
    record: RunRecord,
    examples: Examples,
    y_true: np.ndarray,
    probabilities: np.ndarray,
    thresholds: np.ndarray | None = None,
    steps: int = DEFAULT_STEPS,
) -> dict[str, Any]:
    """Explain `pick_texts` of the test split with the loaded model, write the run's
    `explanations.jsonl` and `explanations.html`, and return the summary `metrics.json` keeps."""
    picked = pick_texts(y_true, probabilities, record.labels, thresholds)
    if not picked:
        return {"texts": 0}
    start = time.perf_counter()
    indices = [item["index"] for item in picked]
    pairs = examples.text_pairs
    explanations = explain_with_model(
        model,
        run,
        record,
        [examples.texts[index] for index in indices],
        None if pairs is None else [pairs[index] for index in indices],
        steps=steps,
    )
    seconds = time.perf_counter() - start
    errors = [
        attribution.completeness_error
        for explanation in explanations
        for attribution in explanation.attributions
    ]
    with run.explanations.open("w", encoding="utf-8") as handle:
        for item, explanation in zip(picked, explanations):
            handle.write(json.dumps({**item, **explanation.to_dict()}, ensure_ascii=False) + "\n")
    notes = [_note(item) for item in picked]
    run.explanations_page.write_text(
        to_html(explanations, f"{run.name}: why the model said it", notes), encoding="utf-8"
    )
    within = float(np.mean(np.asarray(errors) <= COMPLETENESS_TOLERANCE))
    logger.info(
        "Explained %d test texts with integrated gradients in %.1f s; completeness within "
        "%.0f%% for %.0f%% of them: %s",
        len(picked),
        seconds,
        COMPLETENESS_TOLERANCE * 100,
        within * 100,
        run.explanations_page,
    )
    return {
        "method": "integrated_gradients",
        "steps": steps,
        "texts": len(picked),
        "mistakes": sum(item["kind"] == "mistake" for item in picked),
        "completeness_tolerance": COMPLETENESS_TOLERANCE,
        "completeness_within_tolerance": within,
        "completeness_error_max": float(max(errors)),
        "seconds": round(seconds, 2),
    }


def _note(item: dict[str, Any]) -> str:
    truth = ", ".join(item["true"]) or "no label"
    said = ", ".join(item["predicted"]) or "no label"
    if item["kind"] == "mistake":
        return f"test text {item['index']}: a mistake, true {truth}, the model said {said}"
    return f"test text {item['index']}: right, {truth}"


__all__ = [
    "COMPLETENESS_TOLERANCE",
    "CORRECT_PER_LABEL",
    "MISTAKES",
    "explain_test_split",
    "pick_texts",
]
