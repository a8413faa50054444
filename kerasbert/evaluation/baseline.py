"""TF-IDF + logistic regression baseline on the same splits as BERT.

A linear model on word and bigram counts is the bar BERT has to clear: on topic-labelled news it is
often within a point or two, and it trains in seconds on a CPU. The report shows both side by side.
Text pairs get the standard pair features: each text's TF-IDF vector and their elementwise product,
with its sum, the texts' cosine similarity (`PairTfidf`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from kerasbert.common.decision import DEFAULT_THRESHOLD, check_thresholds
from kerasbert.evaluation.metrics import compute_metrics, labels_to_ids
from kerasbert.evaluation.multilabel_metrics import compute_multilabel_metrics
from kerasbert.training.thresholds import tune_thresholds

logger = logging.getLogger(__name__)


def build_vectorizer() -> TfidfVectorizer:
    """Word 1-2 gram TF-IDF, unfitted."""
    return TfidfVectorizer(
        ngram_range=(1, 2),
        # log(1 + tf): a word said ten times is not ten times the evidence.
        sublinear_tf=True,
        strip_accents="unicode",
    )


# The cosine feature's scale: at 1 the keyword-pair test task scores 0.88, at 3 to 30 0.96 (the
# cosine alone 0.96); bbc-pairs scores 0.965 at 1 and at 10.
COSINE_SCALE = 10.0


class PairTfidf(TransformerMixin, BaseEstimator):
    """TF-IDF features of `(text, text_pair)` pairs: both texts' vectors, their elementwise
    product and its sum (the texts' cosine similarity).

    One vectorizer is fitted on both texts of every training pair, so the two vectors share their
    terms: the product is non-zero exactly on the terms both texts use, which is what lets a
    linear model see whether the texts belong together; the vectors alone say what each is about.
    The cosine is a feature of its own because "the texts share many terms" spread over every
    product weight costs the L2 penalty of all of them: without it, logistic regression on
    bbc-pairs (does the body belong to the headline?) predicts one class for every pair.

    Args:
        vectorizer: an unfitted `TfidfVectorizer` (cloned when fitted); default `build_vectorizer()`.
    """

    def __init__(self, vectorizer: TfidfVectorizer | None = None) -> None:
        self.vectorizer = vectorizer

    def fit(self, pairs: Sequence[tuple[str, str]], y: Any = None) -> PairTfidf:
        self.vectorizer_ = clone(self.vectorizer) if self.vectorizer else build_vectorizer()
        self.vectorizer_.fit([text for pair in pairs for text in pair])
        self.vocabulary_ = self.vectorizer_.vocabulary_
        return self

    def transform(self, pairs: Sequence[tuple[str, str]]) -> sparse.csr_matrix:
        first = self.vectorizer_.transform([text for text, _ in pairs])
        second = self.vectorizer_.transform([pair for _, pair in pairs])
        product = first.multiply(second).tocsr()
        # Rows have unit norm: the product's sum is the cosine, a few tenths for related texts.
        # Scaled to the range a logit moves in, it needs no large weight the L2 penalty resists.
        cosine = sparse.csr_matrix(COSINE_SCALE * np.asarray(product.sum(axis=1)))
        return sparse.hstack([first, second, product, cosine], format="csr")


def build_baseline(seed: int = 42, pair: bool = False, class_weight: str | None = None) -> Pipeline:
    """The unfitted scikit-learn pipeline: word 1-2 gram TF-IDF (`PairTfidf` for text pairs)
    into logistic regression (`class_weight="balanced"` weighs classes as a weighted run does)."""
    return Pipeline(
        [
            ("tfidf", PairTfidf() if pair else build_vectorizer()),
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
                    class_weight=class_weight,
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
    train_pairs: Sequence[str] | None = None,
    test_pairs: Sequence[str] | None = None,
    class_weight: str | None = None,
) -> dict[str, Any]:
    """Fit the TF-IDF baseline on the training split and score it on the test split.

    Args:
        train_texts: training texts.
        train_labels: their label names (or class ids).
        test_texts: test texts.
        test_labels: their label names (or class ids).
        labels: all class names; index i names class id i.
        seed: seed of the classifier, so reruns give identical numbers.
        train_pairs: the second texts of the training pairs, for text pairs (`PairTfidf`).
        test_pairs: the second texts of the test pairs; given exactly when `train_pairs` is.
        class_weight: "balanced" to weigh classes by inverse frequency (as the run did), or None.

    Returns:
        The `kerasbert.evaluation.metrics.compute_metrics` dict for the test split, plus `model` (a description) and
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
    pair = train_pairs is not None
    if (test_pairs is not None) != pair:
        raise ValueError("Give the second texts of both splits (text pairs) or of neither.")
    train_inputs = list(zip(train_texts, train_pairs)) if pair else list(train_texts)
    test_inputs = list(zip(test_texts, test_pairs)) if pair else list(test_texts)

    pipeline = build_baseline(seed, pair=pair, class_weight=class_weight)
    start = time.perf_counter()
    pipeline.fit(train_inputs, train_ids)
    fit_seconds = time.perf_counter() - start

    # Classes missing from the training split get probability 0, keeping columns aligned.
    probabilities = np.zeros((len(test_texts), len(labels)))
    seen = pipeline.named_steps["classifier"].classes_
    probabilities[:, seen] = pipeline.predict_proba(test_inputs)
    result = compute_metrics(test_ids, probabilities, labels)
    vocabulary = len(pipeline.named_steps["tfidf"].vocabulary_)
    features = (
        f"TF-IDF of each text, their elementwise product and cosine (word 1-2 grams, sublinear "
        f"tf, {vocabulary} terms shared by both texts)"
        if pair
        else f"TF-IDF (word 1-2 grams, sublinear tf, {vocabulary} terms)"
    )
    weighted = ", balanced class weights" if class_weight == "balanced" else ""
    result["model"] = f"{features} + LogisticRegression{weighted}"
    result["fit_seconds"] = round(fit_seconds, 3)
    logger.info(
        "Baseline: accuracy %.4f, macro-F1 %.4f (fit in %.1f s)",
        result["accuracy"],
        result["macro_f1"],
        fit_seconds,
    )
    return result


def tfidf_multilabel_baseline(
    train: tuple[Sequence[Any], np.ndarray],
    validation: tuple[Sequence[Any], np.ndarray] | None,
    test: tuple[Sequence[Any], np.ndarray],
    labels: Sequence[str],
    seed: int = 42,
    class_weight: str | None = None,
) -> dict[str, Any]:
    """One-vs-rest TF-IDF + logistic regression for multi-label data, thresholded like BERT.

    Each split is `(inputs, multi-hot matrix)`: inputs are texts, or `(text, text_pair)` tuples
    (`PairTfidf`). One logistic regression per label on the same features as the single-label
    baseline; per-label thresholds tuned on `validation` by BERT's rule
    (`kerasbert.training.thresholds.tune_thresholds`), 0.5 each without a validation split. Returns the
    `compute_multilabel_metrics` dict of the test split with `model`, `fit_seconds` and
    `thresholds_from`. `class_weight="balanced"` weighs each label's positives against its
    negatives by their inverse frequencies, the ratio a weighted run's `pos_weight` gives them.
    """
    from sklearn.multiclass import OneVsRestClassifier

    labels = list(labels)
    (train_inputs, train_y), (test_inputs, test_y) = train, test
    pair = bool(len(train_inputs)) and not isinstance(train_inputs[0], str)
    base = build_baseline(seed, pair=pair, class_weight=class_weight)
    pipeline = Pipeline(
        [
            ("tfidf", base.named_steps["tfidf"]),
            # One solver per label, each the single-label baseline's; a label absent from the
            # training split gets a constant "no" (scikit-learn warns and keeps the column).
            ("classifier", OneVsRestClassifier(base.named_steps["classifier"])),
        ]
    )
    start = time.perf_counter()
    pipeline.fit(list(train_inputs), np.asarray(train_y).astype(np.int64))
    fit_seconds = time.perf_counter() - start
    thresholds = np.full(len(labels), DEFAULT_THRESHOLD)
    if validation is not None and len(validation[0]):
        validation_probabilities = pipeline.predict_proba(list(validation[0]))
        tuned = tune_thresholds(validation[1], validation_probabilities, labels)
        thresholds = check_thresholds(tuned["thresholds"], labels)
    result = compute_multilabel_metrics(
        test_y, pipeline.predict_proba(list(test_inputs)), labels, thresholds
    )
    vocabulary = len(pipeline.named_steps["tfidf"].vocabulary_)
    features = "pair TF-IDF features" if pair else "TF-IDF (word 1-2 grams, sublinear tf)"
    weighted = ", positives weighed against negatives (balanced)" if class_weight else ""
    result["model"] = (
        f"{features}, {vocabulary} terms + one-vs-rest LogisticRegression (one per label"
        f"{weighted}), per-label thresholds tuned on the validation split as for BERT"
    )
    result["thresholds_from"] = "validation" if validation is not None else "default 0.5"
    result["fit_seconds"] = round(fit_seconds, 3)
    logger.info(
        "Baseline (one-vs-rest): micro-F1 %.4f, macro-F1 %.4f, subset accuracy %.4f",
        result["micro_f1"],
        result["macro_f1"],
        result["subset_accuracy"],
    )
    return result


def _as_ids(values: Sequence[str] | Sequence[int], labels: list[str], source: str) -> np.ndarray:
    array = np.asarray(values)
    if np.issubdtype(array.dtype, np.integer):
        if len(array) and (array.min() < 0 or array.max() >= len(labels)):
            raise ValueError(f"The {source} has class ids outside [0, {len(labels)}).")
        return array.astype(np.int64)
    return labels_to_ids([str(value) for value in values], labels, source=f"The {source}")
