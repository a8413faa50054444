"""TF-IDF + logistic regression baseline on the same splits as BERT.

A linear model on word and bigram counts is the bar BERT has to clear: on topic-labelled news it is
often within a point or two, and it trains in seconds on a CPU. The report shows both side by side.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from kerasbert.metrics import compute_metrics, labels_to_ids

logger = logging.getLogger(__name__)


def build_baseline(seed: int = 42) -> Pipeline:
    """The unfitted scikit-learn pipeline: word 1-2 gram TF-IDF into logistic regression."""
    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    ngram_range=(1, 2),
                    # log(1 + tf): a word said ten times is not ten times the evidence.
                    sublinear_tf=True,
                    strip_accents="unicode",
                ),
            ),
            (
                "classifier",
                LogisticRegression(
                    # TF-IDF rows have unit norm, so weights need room: cross-validated macro-F1
                    # on BBC headlines and articles rises up to C=30 and is flat beyond.
                    C=30.0,
                    # Newton-CG reaches lbfgs's optimum in a handful of iterations on these
                    # 200k+ sparse features, several times faster.
                    solver="newton-cg",
                    max_iter=2000,
                    random_state=seed,
                ),
            ),
        ]
    )


def tfidf_baseline(
    train_texts: Sequence[str],
    train_labels: Sequence[str] | Sequence[int],
    test_texts: Sequence[str],
    test_labels: Sequence[str] | Sequence[int],
    labels: Sequence[str],
    seed: int = 42,
) -> dict[str, Any]:
    """Fit the TF-IDF baseline on the training split and score it on the test split.

    Args:
        train_texts: training texts.
        train_labels: their label names (or class ids).
        test_texts: test texts.
        test_labels: their label names (or class ids).
        labels: all class names; index i names class id i.
        seed: seed of the classifier, so reruns give identical numbers.

    Returns:
        The `kerasbert.metrics.compute_metrics` dict for the test split, plus `model` (a description) and
        `fit_seconds`.

    Example:
    >>> texts = ["cheap stocks rally", "shares fall", "team wins cup", "striker scores"]
    >>> names = ["business", "business", "sport", "sport"]
    >>> result = tfidf_baseline(texts, names, ["stocks fall"], ["business"], ["business", "sport"])
    >>> sorted(result["per_class"])
    ['business', 'sport']
    """
    labels = list(labels)
    if len(train_texts) != len(train_labels) or len(test_texts) != len(test_labels):
        raise ValueError("Each split needs exactly one label per text.")
    if not train_texts:
        raise ValueError("The baseline needs at least one training text.")
    train_ids = _as_ids(train_labels, labels, "training split")
    test_ids = _as_ids(test_labels, labels, "test split")
    if len(np.unique(train_ids)) < 2:
        raise ValueError("The baseline needs at least two classes in the training split.")

    pipeline = build_baseline(seed)
    start = time.perf_counter()
    pipeline.fit(list(train_texts), train_ids)
    fit_seconds = time.perf_counter() - start

    # Classes missing from the training split get probability 0, keeping columns aligned.
    probabilities = np.zeros((len(test_texts), len(labels)))
    seen = pipeline.named_steps["classifier"].classes_
    probabilities[:, seen] = pipeline.predict_proba(list(test_texts))
    result = compute_metrics(test_ids, probabilities, labels)
    vocabulary = len(pipeline.named_steps["tfidf"].vocabulary_)
    result["model"] = (
        f"TF-IDF (word 1-2 grams, sublinear tf, {vocabulary} terms) + LogisticRegression"
    )
    result["fit_seconds"] = round(fit_seconds, 3)
    logger.info(
        "Baseline: accuracy %.4f, macro-F1 %.4f (fit in %.1f s)",
        result["accuracy"],
        result["macro_f1"],
        fit_seconds,
    )
    return result


def _as_ids(values: Sequence[str] | Sequence[int], labels: list[str], source: str) -> np.ndarray:
    array = np.asarray(values)
    if np.issubdtype(array.dtype, np.integer):
        if len(array) and (array.min() < 0 or array.max() >= len(labels)):
            raise ValueError(f"The {source} has class ids outside [0, {len(labels)}).")
        return array.astype(np.int64)
    return labels_to_ids([str(value) for value in values], labels, source=f"The {source}")
