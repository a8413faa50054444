"""The checks an export must pass: TensorFlow and onnxruntime agree, and int8 keeps its accuracy.

`check_parity` compares logits batch by batch and raises `ParityError` beyond `PARITY_TOLERANCE`
or on any different prediction; `compare_int8` measures what dynamic quantization costs. Every
prediction compared is decided by `kerasbert.common.decision`, the predictor's own rule.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.common.decision import best_ids, decide, sigmoid
from kerasbert.common.names import LOGITS
from kerasbert.inference.predictor import graph_feeds, input_types
from kerasbert.training.pipeline import encode, encode_windows, pad_batch

logger = logging.getLogger(__name__)

# Float32 round-off across two runtimes stays near 1e-6 on BERT logits; 1e-4 still catches any
# real conversion error (a wrong op or mask shows up as >= 1e-2).
PARITY_TOLERANCE = 1e-4


# Texts run one at a time in the parity check (the rest run in batches of 32): enough to cover
# short, median and longest texts without slowing the export.
PARITY_SINGLE_EXAMPLES = 8


PARITY_BATCH_SIZE = 32


# TF logits are computed for this many test texts (4 batches of 32, spread over the length range);
# the fp32 predictor is then compared with the run's TF predictions on the whole test split.
PARITY_MAX_TEXTS = 128


# Dynamic int8 usually costs BERT classifiers well under one point; more means a problem.
DEFAULT_INT8_THRESHOLD = 1.0


class ParityError(RuntimeError):
    """TensorFlow and onnxruntime disagree on the same inputs: the export is not trustworthy."""


def encode_for_parity(
    tokenizer: Any,
    texts: Sequence[str],
    max_length: int,
    input_names: Sequence[str],
    text_pairs: Sequence[str] | None = None,
    truncation: str = "head",
    windows: bool = False,
    window_overlap: int | None = None,
) -> list[tuple[int, dict[str, np.ndarray]]]:
    """Batches for the parity check as `(batch size, inputs)`: single texts (or pairs) of spread
    token lengths, then all of them in input order in batches of 32.

    Encoded as training encodes them (`kerasbert.training.pipeline.encode`: pairs with their segment ids,
    the run's truncation); each batch is padded to its own longest sequence, so padding and
    masking are exercised. Single texts get segment ids 0. With `windows`, the sequences are
    the texts' windows, as a model trained on windows sees them.
    """
    if windows:
        encoded, _ = encode_windows(tokenizer, list(texts), max_length, window_overlap)
    else:
        encoded = encode(
            tokenizer,
            list(texts),
            max_length,
            None if text_pairs is None else list(text_pairs),
            truncation,
        )
    by_length = np.argsort(encoded.lengths, kind="stable")
    picks = np.unique(np.linspace(0, len(by_length) - 1, PARITY_SINGLE_EXAMPLES).astype(int))
    batches = [(1, by_length[[index]]) for index in picks]
    batches += [
        (PARITY_BATCH_SIZE, np.arange(start, min(start + PARITY_BATCH_SIZE, len(encoded))))
        for start in range(0, len(encoded), PARITY_BATCH_SIZE)
    ]
    feeds = []
    for batch_size, batch in batches:
        features = pad_batch(encoded, batch)
        zeros = np.zeros_like(features["input_ids"])
        feeds.append((batch_size, {name: features.get(name, zeros) for name in input_names}))
    return feeds


def tensorflow_logits(model: Any, feeds: dict[str, np.ndarray]) -> np.ndarray:
    return model(feeds, training=False).logits.numpy()


def check_parity(
    onnx_path: str | Path,
    batches: Sequence[tuple[int, dict[str, np.ndarray]]],
    expected_logits: Sequence[np.ndarray],
    *,
    tolerance: float = PARITY_TOLERANCE,
    thresholds: np.ndarray | None = None,
) -> dict[str, Any]:
    """Compare onnxruntime's logits with TensorFlow's on the same batches.

    `batches` come from `encode_for_parity`, fed to the graph in the types it declares (the
    predictor's `graph_feeds`). Returns the figures per batch size; raises
    `ParityError` when any logit differs by more than `tolerance` or any predicted class differs,
    and for a multi-label model (`thresholds`, one per label) any thresholded label set.
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    types = input_types(session, onnx_path)
    figures: dict[int, dict[str, Any]] = {}
    for (size, feeds), expected in zip(batches, expected_logits, strict=True):
        actual = session.run([LOGITS], graph_feeds(types, feeds))[0]
        entry = figures.setdefault(size, {"examples": 0, "max_abs_diff": 0.0, "mismatches": 0})
        entry["examples"] += len(expected)
        entry["max_abs_diff"] = max(entry["max_abs_diff"], float(np.abs(actual - expected).max()))
        # The most probable class is the largest logit: softmax keeps the order.
        entry["mismatches"] += int((best_ids(actual) != best_ids(expected)).sum())
        if thresholds is not None:
            entry["label_set_mismatches"] = entry.get("label_set_mismatches", 0) + (
                _different_sets(sigmoid(actual), sigmoid(expected), thresholds)
            )
    result = {
        "tolerance": tolerance,
        "max_abs_diff": max(entry["max_abs_diff"] for entry in figures.values()),
        "argmax_mismatches": sum(entry["mismatches"] for entry in figures.values()),
        "by_batch_size": {str(size): entry for size, entry in sorted(figures.items())},
    }
    if thresholds is not None:
        result["label_set_mismatches"] = sum(
            entry["label_set_mismatches"] for entry in figures.values()
        )
    logger.info(
        "Parity %s: max |Δlogit| %.2e, %d argmax mismatches%s",
        Path(onnx_path).name,
        result["max_abs_diff"],
        result["argmax_mismatches"],
        "" if thresholds is None else f", {result['label_set_mismatches']} label-set mismatches",
    )
    if (
        result["max_abs_diff"] > tolerance
        or result["argmax_mismatches"]
        or result.get("label_set_mismatches")
    ):
        raise ParityError(
            f"{Path(onnx_path).name} does not match TensorFlow: max |Δlogit| "
            f"{result['max_abs_diff']:.3g} (tolerance {tolerance:g}), "
            f"{result['argmax_mismatches']} different predictions, "
            f"{result.get('label_set_mismatches', 0)} different label sets. Figures: {result}"
        )
    return result


def _different_sets(first: np.ndarray, second: np.ndarray, thresholds: np.ndarray) -> int:
    """Texts whose thresholded label sets differ between two probability matrices."""
    return int((decide(first, thresholds) != decide(second, thresholds)).any(axis=1).sum())


def agreement_with_tensorflow(
    tensorflow_probabilities: np.ndarray,
    predictor_probabilities: np.ndarray,
    thresholds: np.ndarray | None = None,
) -> dict[str, Any]:
    """Compare the exported predictor's test predictions with training's TensorFlow ones: the
    top class, or for a multi-label model (`thresholds`) the thresholded label sets.

    Raises `ParityError` when any prediction differs; returns the figures otherwise.
    """
    different = (
        int((best_ids(tensorflow_probabilities) != best_ids(predictor_probabilities)).sum())
        if thresholds is None
        else _different_sets(tensorflow_probabilities, predictor_probabilities, thresholds)
    )
    result = {
        "examples": len(tensorflow_probabilities),
        "different_predictions": different,
        # The run stores its test probabilities rounded (kerasbert.training.rundir).
        "max_abs_probability_diff": float(
            np.abs(tensorflow_probabilities - predictor_probabilities).max()
        ),
    }
    if different:
        raise ParityError(
            f"The exported fp32 predictor disagrees with TensorFlow on {different} of "
            f"{len(tensorflow_probabilities)} test texts: {result}."
        )
    return result


def compare_int8(
    true_ids: np.ndarray,
    fp32_probabilities: np.ndarray,
    int8_probabilities: np.ndarray,
    threshold: float = DEFAULT_INT8_THRESHOLD,
    label_thresholds: np.ndarray | None = None,
) -> dict[str, Any]:
    """Accuracy and macro-F1 of int8 against fp32 on the same texts, with the drop in points.

    For a multi-label model (`label_thresholds`, one per label; `true_ids` multi-hot) both are
    scored on the thresholded label sets: accuracy is subset accuracy, agreement the share of
    identical sets. Warns, and sets `drop_exceeds_threshold`, when either metric drops by more
    than `threshold` points.
    """
    from sklearn.metrics import accuracy_score, f1_score

    true_ids = np.asarray(true_ids)
    classes = list(range(fp32_probabilities.shape[1]))
    scores, decisions = {}, {}
    for name, probabilities in (("fp32", fp32_probabilities), ("int8", int8_probabilities)):
        if label_thresholds is None:
            predicted = decisions[name] = best_ids(probabilities)
            f1 = f1_score(true_ids, predicted, labels=classes, average="macro", zero_division=0)
        else:
            predicted = decisions[name] = decide(probabilities, label_thresholds).astype(int)
            f1 = f1_score(true_ids.astype(int), predicted, average="macro", zero_division=0)
        scores[name] = {
            "accuracy": float(accuracy_score(true_ids.astype(int), predicted)),
            "macro_f1": float(f1),
        }
    accuracy_drop = 100 * (scores["fp32"]["accuracy"] - scores["int8"]["accuracy"])
    f1_drop = 100 * (scores["fp32"]["macro_f1"] - scores["int8"]["macro_f1"])
    exceeded = max(accuracy_drop, f1_drop) > threshold
    same = decisions["fp32"] == decisions["int8"]
    agreement = float((same if same.ndim == 1 else same.all(axis=1)).mean())
    if exceeded:
        logger.warning(
            "int8 model loses %.2f accuracy points and %.2f macro-F1 points (threshold %.2f); "
            "prefer variant='fp32' for this model.",
            accuracy_drop,
            f1_drop,
            threshold,
        )
    return {
        "examples": int(len(true_ids)),
        "fp32": scores["fp32"],
        "int8": scores["int8"],
        "accuracy_drop_points": round(accuracy_drop, 4),
        "macro_f1_drop_points": round(f1_drop, 4),
        "prediction_agreement": agreement,
        "max_abs_probability_diff": float(np.abs(fp32_probabilities - int8_probabilities).max())
        if len(true_ids)
        else 0.0,
        "threshold_points": threshold,
        "drop_exceeds_threshold": bool(exceeded),
    }


def spread_by_length(texts: Sequence[Any], count: int) -> list[Any]:
    """At most `count` texts (or `(text, text_pair)` pairs, by their total length) evenly spread
    from shortest to longest, in their original order."""
    if len(texts) <= count:
        return list(texts)
    lengths = [len(text) if isinstance(text, str) else sum(map(len, text)) for text in texts]
    by_length = np.argsort(lengths, kind="stable")
    picks = by_length[np.linspace(0, len(texts) - 1, count).round().astype(int)]
    return [texts[index] for index in sorted(set(picks.tolist()))]
