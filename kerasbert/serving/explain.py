"""`POST /v1/explain`'s work: the words each input would cost, counted against the limit before
anything runs, then classification and occlusion in one worker call, and the answer's body.

Every label is explained in the worker (occlusion computes every label's probability with each
word hidden anyway, so more labels cost no model pass): inputs of requests asking for different
labels then share batches, and each request keeps the labels it asked for. The probabilities and
decision are `OnnxClassifier.classify`'s, calibrated, exactly what `/v1/classify` answers; the
scores are occlusion's differences of the model's own probabilities (`OnnxClassifier.explain`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kerasbert.common.errors import InputError
from kerasbert.inference.explain import Explanation, WordEncoder, chosen_labels
from kerasbert.inference.exportdir import ExportDir


@dataclass(frozen=True)
class Explained:
    """One input's answer from the worker: its label (label set), calibrated probabilities and
    the explanation of every label."""

    label: Any
    probabilities: Any
    explanation: Explanation


class WordCounter:
    """How many words of each input the model reads (and occlusion would hide in turn), by the
    export's own tokenizer and truncation, as `OnnxClassifier.explain` splits them.

    The tokenizer is loaded at the first call, so a server that is never asked to explain never
    loads it twice.
    """

    def __init__(self, classifier: Any) -> None:
        self._classifier = classifier
        self._encoder: WordEncoder | None = None
        self._lock = threading.Lock()

    def _words(self) -> WordEncoder:
        with self._lock:
            if self._encoder is None:
                classifier = self._classifier
                self._encoder = WordEncoder.from_file(
                    ExportDir(classifier.directory).tokenizer,
                    classifier.max_length,
                    classifier.truncation,
                )
            return self._encoder

    def count(self, inputs: Sequence[Any]) -> list[int]:
        """The words of each input (a text, or a `(text, text_pair)` pair)."""
        if self._classifier.pair:
            texts, pairs = [item[0] for item in inputs], [item[1] for item in inputs]
        else:
            texts, pairs = list(inputs), None
        return [len(encoding.words) for encoding in self._words().encode(texts, pairs)]


def check_words(counts: Sequence[int], kind: str, limit: int) -> None:
    """Refuse an input without a word (nothing to explain) or a request whose inputs have more
    words than `limit` in all, naming the field: an `InputError` with `field` set."""
    for position, count in enumerate(counts):
        if count == 0:
            raise FieldError(
                f"{kind}[{position}]",
                "no words to explain (empty, or only spaces); send a text with words.",
                422,
            )
    for position, count in enumerate(counts):
        if count > limit:
            raise FieldError(
                f"{kind}[{position}]",
                f"{count} words to explain (those the model reads); at most {limit} per "
                "request (--max-explain-words): send a shorter text.",
                413,
            )
    if sum(counts) > limit:
        raise FieldError(
            kind,
            f"{sum(counts)} words to explain in all (those the model reads); at most {limit} "
            "per request (--max-explain-words): send fewer or shorter texts.",
            413,
        )


def check_labels(requested: Sequence[str] | None, labels: Sequence[str]) -> list[str] | None:
    """The labels a request asks to explain, each one of the model's (duplicates dropped)."""
    if requested is None:
        return None
    for position, name in enumerate(requested):
        if name not in labels:
            raise FieldError(
                f"labels[{position}]",
                f"{name!r} is not one of the model's labels: {', '.join(labels)}.",
                422,
            )
    return list(dict.fromkeys(requested))


class FieldError(InputError):
    """Bad input to `/v1/explain`, with the request field at fault and the HTTP status."""

    def __init__(self, field: str, message: str, status: int) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.status = field, status


def make_explain(
    classifier: Any, on_words: Callable[[int], None] | None = None
) -> Callable[[list[Any]], list[Explained]]:
    """The batch function of the explain batcher: classify the inputs (calibrated, no
    abstention: each request applies its own) and explain every label by occlusion.
    `on_words` receives the number of words explained (metrics)."""

    def explain(items: list[Any]) -> list[Explained]:
        scores = classifier.classify(items, min_confidence=None)
        explanations = classifier.explain(items, labels=list(classifier.labels))
        if on_words is not None:
            on_words(sum(len(explanation.words) for explanation in explanations))
        return [
            Explained(label, row, explanation)
            for label, row, explanation in zip(
                scores.labels, scores.probabilities, explanations, strict=True
            )
        ]

    return explain


def explanation_body(
    classifier: Any, answer: Explained, requested: Sequence[str] | None
) -> dict[str, Any]:
    """The words and attributions of one `/v1/explain` result: the `requested` labels, else
    those the model decided (`chosen_labels` on the calibrated probabilities)."""
    labels = list(classifier.labels)
    explanation = answer.explanation
    names = requested or [
        labels[index]
        for index in chosen_labels(
            answer.probabilities, labels, classifier.task, classifier.thresholds, None
        )
    ]
    return {
        "method": explanation.method,
        "words": [
            {"text": word.text, "start": word.start, "end": word.end, "segment": word.segment}
            for word in explanation.words
        ],
        "attributions": [
            {
                "label": name,
                "probability": float(answer.probabilities[labels.index(name)]),
                "scores": list(explanation.attribution(name).scores),
            }
            for name in names
        ],
    }
