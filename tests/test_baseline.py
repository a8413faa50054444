"""TF-IDF baseline: scikit-learn agrees, the numbers repeat with a seed, and BBC is easy for it."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_texts
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from kerasbert.common.errors import InputError
from kerasbert.data.readers import read_bbc
from kerasbert.evaluation.baseline import tfidf_baseline
from kerasbert.evaluation.metrics import compute_metrics, lift

LABELS = ["business", "sport", "tech"]


def tiny_splits() -> tuple[list[str], list[str], list[str], list[str]]:
    train, test = tiny_texts(30, seed=1), tiny_texts(10, seed=2)
    return (
        [text for text, _ in train],
        [label for _, label in train],
        [text for text, _ in test],
        [label for _, label in test],
    )


def test_baseline_matches_an_independent_scikit_learn_pipeline() -> None:
    train_texts, train_labels, test_texts, test_labels = tiny_splits()
    result = tfidf_baseline(train_texts, train_labels, test_texts, test_labels, LABELS, seed=3)

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode")
    classifier = LogisticRegression(C=30.0, max_iter=2000, random_state=3)
    classifier.fit(vectorizer.fit_transform(train_texts), train_labels)
    predicted = classifier.predict(vectorizer.transform(test_texts))
    assert result["accuracy"] == pytest.approx(accuracy_score(test_labels, predicted))
    assert result["macro_f1"] == pytest.approx(f1_score(test_labels, predicted, average="macro"))
    assert result["accuracy"] > 0.9, "keywords decide the tiny labels; the baseline must find them"


def test_balanced_baseline_weighs_classes_as_scikit_learn_does() -> None:
    """A weighted run's baseline is balanced logistic regression; an unweighted one is not."""
    train_texts, train_labels, test_texts, test_labels = tiny_splits()
    keep = [i for i, label in enumerate(train_labels) if label != "tech" or i % 5 == 0]
    train_texts = [train_texts[i] for i in keep]
    train_labels = [train_labels[i] for i in keep]
    result = tfidf_baseline(
        train_texts, train_labels, test_texts, test_labels, LABELS, seed=3, class_weight="balanced"
    )
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode")
    features = vectorizer.fit_transform(train_texts)
    probabilities = {}
    for weight in ("balanced", None):
        classifier = LogisticRegression(
            C=30.0, solver="newton-cg", max_iter=2000, random_state=3, class_weight=weight
        ).fit(features, train_labels)
        probabilities[weight] = classifier.predict_proba(vectorizer.transform(test_texts))
    assert "balanced class weights" in result["model"]
    assert result["log_loss"] == pytest.approx(
        compute_metrics(np.array([LABELS.index(x) for x in test_labels]),
                        probabilities["balanced"], LABELS)["log_loss"], rel=1e-4
    )  # fmt: skip
    assert not np.allclose(probabilities["balanced"], probabilities[None], atol=1e-3)


def test_baseline_has_the_compute_metrics_keys_and_repeats_with_a_seed() -> None:
    splits = tiny_splits()
    first = tfidf_baseline(*splits, LABELS, seed=7)
    second = tfidf_baseline(*splits, LABELS, seed=7)
    reference = compute_metrics(np.array([0, 1]), np.eye(3)[[0, 1]], LABELS)
    assert set(reference) <= set(first)
    first.pop("fit_seconds"), second.pop("fit_seconds")
    assert first == second
    assert "TF-IDF" in first["model"]


def test_baseline_accepts_class_ids_and_keeps_unseen_classes() -> None:
    train_texts, train_labels, test_texts, test_labels = tiny_splits()
    labels = [*LABELS, "weather"]  # never in training: probability 0, still a column
    by_name = tfidf_baseline(train_texts, train_labels, test_texts, test_labels, labels)
    by_id = tfidf_baseline(
        train_texts,
        [labels.index(label) for label in train_labels],
        test_texts,
        [labels.index(label) for label in test_labels],
        labels,
    )
    assert by_name["accuracy"] == by_id["accuracy"]
    assert np.asarray(by_name["confusion_matrix"]).shape == (4, 4)
    assert by_name["per_class"]["weather"]["support"] == 0


def test_baseline_refuses_unknown_labels() -> None:
    with pytest.raises(InputError, match="'weather'"):
        tfidf_baseline(["a b", "c d"], ["sport", "weather"], ["a"], ["sport"], LABELS)


def test_lift_is_model_minus_baseline() -> None:
    gains = lift(
        {"accuracy": 0.9, "macro_f1": 0.8, "log_loss": 0.3},
        {"accuracy": 0.85, "macro_f1": 0.7, "log_loss": 0.5},
    )
    assert gains == pytest.approx({"accuracy": 0.05, "macro_f1": 0.1, "log_loss": -0.2})


def test_baseline_on_a_sample_of_bbc_headlines() -> None:
    texts, labels = read_bbc(headlines=True)
    # 400 stratified headlines keep the test fast; topic words make even headlines separable.
    sample, _ = train_test_split(
        np.arange(len(texts)), train_size=400, stratify=labels, random_state=0
    )
    texts = [texts[index] for index in sample]
    labels = [labels[index] for index in sample]
    train_texts, test_texts, train_labels, test_labels = train_test_split(
        texts, labels, test_size=0.25, stratify=labels, random_state=42
    )
    names = sorted(set(labels))
    result = tfidf_baseline(train_texts, train_labels, test_texts, test_labels, names, seed=42)
    assert result["num_examples"] == 100
    assert 0.45 < result["accuracy"] < 0.95  # far above the 0.23 of guessing the largest class


def _match_pairs(count: int, seed: int) -> tuple[list[str], list[str], list[str]]:
    """Each text twice: with a text on its keyword (`match`) and with one on another keyword
    (`mismatch`), so neither text alone says anything: only the pair does (as in bbc-pairs)."""
    import random

    from conftest import CLASS_WORDS, FILLER

    rng = random.Random(seed)
    keywords = [word for words in CLASS_WORDS.values() for word in words]

    def sentence(keyword: str) -> str:
        return f"{rng.choice(FILLER)} {keyword} {rng.choice(FILLER)}"

    texts, pairs, labels = [], [], []
    for _ in range(count):
        keyword, other = rng.sample(keywords, 2)
        first = sentence(keyword)
        for second, label in ((sentence(keyword), "match"), (sentence(other), "mismatch")):
            texts.append(first)
            pairs.append(second)
            labels.append(label)
    return texts, pairs, labels


def test_pair_baseline_reads_the_two_texts_together() -> None:
    train, test = _match_pairs(150, seed=1), _match_pairs(50, seed=2)
    labels = ["match", "mismatch"]
    result = tfidf_baseline(
        train[0], train[2], test[0], test[2], labels, train_pairs=train[1], test_pairs=test[1]
    )
    assert result["accuracy"] > 0.9  # chance is 0.5: each first text is in both classes
    assert "TF-IDF of each text, their elementwise product and cosine" in result["model"]
    assert result["num_examples"] == 100
    with pytest.raises(ValueError, match="second texts of both splits"):
        tfidf_baseline(train[0], train[2], test[0], test[2], labels, train_pairs=train[1])


def test_weighted_multilabel_baseline_balances_each_label_as_scikit_learn_does() -> None:
    """A weighted multi-label run's baseline weighs each label's positives against its
    negatives (balanced one-vs-rest), so its lift compares like with like."""
    from sklearn.multiclass import OneVsRestClassifier

    from kerasbert.evaluation.baseline import tfidf_multilabel_baseline

    train_texts, train_labels, test_texts, test_labels = tiny_splits()

    def multi_hot(names: list[str]) -> np.ndarray:
        # "tech" is rare among positives: one in three of its texts keeps the label.
        y = np.array([[name == label for label in LABELS] for name in names], dtype=np.int64)
        y[np.arange(len(names)) % 3 != 0, 2] = 0
        return y

    train, test = (train_texts, multi_hot(train_labels)), (test_texts, multi_hot(test_labels))
    weighted = tfidf_multilabel_baseline(train, None, test, LABELS, seed=3, class_weight="balanced")
    plain = tfidf_multilabel_baseline(train, None, test, LABELS, seed=3)
    assert "balanced" in weighted["model"] and "balanced" not in plain["model"]

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode")
    features = vectorizer.fit_transform(train_texts)
    independent = OneVsRestClassifier(
        LogisticRegression(
            C=30.0, solver="newton-cg", max_iter=2000, random_state=3, class_weight="balanced"
        )
    ).fit(features, train[1])
    predicted = independent.predict_proba(vectorizer.transform(test_texts)) >= 0.5
    assert weighted["micro_f1"] == pytest.approx(f1_score(test[1], predicted, average="micro"))
    assert weighted["macro_f1"] == pytest.approx(f1_score(test[1], predicted, average="macro"))
