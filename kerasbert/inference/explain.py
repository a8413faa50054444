"""Word attributions: which words made a model say what it said.

Texts are split into words by the model's own tokenizer (its pre-tokenizer: whitespace and
punctuation), each word keeping its character span in the text it came from, so a page can
highlight it, and the token positions of its word pieces, so a method can mask or perturb them.

`occlude` is the TensorFlow-free method behind `OnnxClassifier.explain`: every word is masked in
turn and all variants of all texts go through the model in the same batches, so one text costs
(words + 1) forward passes. The attribution of word i to label L is
`p(L | text) - p(L | text with word i masked)`: positive where the word supports the label.

A word is masked by hiding its pieces from attention (attention mask 0, ids set to `[PAD]`), as
padding is hidden in every batch the model ever saw: every other token keeps its position and
segment, and no token stands in for the word. Deleting the word would shift every later
position; replacing it by `[MASK]` or `[UNK]` shows the fine-tuned model a token it never saw in
training (a tiny model fine-tuned from random weights took `[MASK]` itself as evidence, masking
any filler word moved its probability by 0.9).

Integrated gradients, which need the TensorFlow model, live in `kerasbert.evaluation.attributions`
and return the same `Explanation`s.

Example:
>>> classifier.explain("The striker scored twice.")[0].attributions[0].top(2)  # doctest: +SKIP
[('striker', 0.41), ('scored', 0.12)]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from kerasbert.common.decision import best_ids, decide
from kerasbert.common.errors import InputError
from kerasbert.common.names import Task
from kerasbert.common.truncation import check_truncation, kept_positions

OCCLUSION = "occlusion"
INTEGRATED_GRADIENTS = "integrated_gradients"


@dataclass(frozen=True)
class Word:
    """One word of a text: `text[start:end]` (of the pair's second text where `segment` is 1),
    and the positions of its word pieces in the encoded sequence (special tokens counted)."""

    text: str
    start: int
    end: int
    segment: int
    positions: tuple[int, ...]


@dataclass(frozen=True)
class Attribution:
    """How much each word pushed one label: `scores[i]` belongs to `words[i]` of the
    `Explanation`; positive supports the label.

    Args:
        label: the label explained.
        probability: the model's probability of `label` for the whole text.
        scores: per word; occlusion: a probability difference; integrated gradients: a share of
            the label's logit.
        completeness_error: integrated gradients only: |sum of scores - (logit(text) -
            logit(baseline))| relative to the latter; near 0 when the path integral converged.
    """

    label: str
    probability: float
    scores: tuple[float, ...]
    completeness_error: float | None = None

    def ranking(self) -> list[int]:
        """Word indices, most supporting first (equal scores keep text order)."""
        return sorted(range(len(self.scores)), key=lambda index: -self.scores[index])


@dataclass(frozen=True)
class Explanation:
    """The attributions of one text (or pair) for one or more labels.

    `method` is `occlusion` or `integrated_gradients`. `to_dict` gives what `kerasbert explain
    --output x.jsonl` and the server write.
    """

    text: str
    text_pair: str | None
    words: tuple[Word, ...]
    attributions: tuple[Attribution, ...]
    method: str

    def top(self, count: int = 5, label: str | None = None) -> list[tuple[str, float]]:
        """The `count` most supporting `(word, score)` of `label` (default: the first explained)."""
        attribution = self.attribution(label)
        return [
            (self.words[index].text, attribution.scores[index])
            for index in attribution.ranking()[:count]
        ]

    def attribution(self, label: str | None = None) -> Attribution:
        """The attribution of `label`, or the first one explained."""
        if label is None:
            return self.attributions[0]
        for attribution in self.attributions:
            if attribution.label == label:
                return attribution
        raise InputError(
            f"label {label!r} was not explained; explained: "
            f"{[item.label for item in self.attributions]}."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "text_pair": self.text_pair,
            "method": self.method,
            "words": [
                {"text": word.text, "start": word.start, "end": word.end, "segment": word.segment}
                for word in self.words
            ],
            "attributions": [
                {
                    "label": item.label,
                    "probability": item.probability,
                    "scores": list(item.scores),
                    "completeness_error": item.completeness_error,
                }
                for item in self.attributions
            ],
        }


@dataclass(frozen=True)
class WordEncoding:
    """One text (or pair) as the model reads it: token ids, segment ids and its words."""

    ids: tuple[int, ...]
    segments: tuple[int, ...]
    words: tuple[Word, ...]


class WordEncoder:
    """Encode texts as training does (`kerasbert.common.truncation`) and keep their words.

    The ids are those `TextEncoder.encode_segments` gives (a test holds them equal); a word all of
    whose pieces truncation cut is left out, one partly cut keeps its whole span.

    Args:
        tokenizer: a `tokenizers.Tokenizer` without padding or truncation (the model's
            `tokenizer.json`; `from_file` loads and configures one).
        max_length: tokens per sequence, special tokens included, as in training.
        truncation: `head`, `tail` or `head_tail`, as in training.
    """

    def __init__(self, tokenizer: Tokenizer, max_length: int, truncation: str = "head") -> None:
        self._tokenizer = tokenizer
        self.max_length = max_length
        self.truncation = check_truncation(truncation)
        pad = tokenizer.token_to_id("[PAD]")
        self.pad_id = 0 if pad is None else pad

    @classmethod
    def from_file(cls, path, max_length: int, truncation: str = "head") -> WordEncoder:
        tokenizer = Tokenizer.from_file(str(path))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return cls(tokenizer, max_length, truncation)

    def encode(
        self, texts: Sequence[str], text_pairs: Sequence[str] | None = None
    ) -> list[WordEncoding]:
        inputs = list(texts) if text_pairs is None else list(zip(texts, text_pairs, strict=True))
        encodings = []
        for encoding in self._tokenizer.encode_batch(inputs):
            keep = list(range(len(encoding.ids)))
            if len(keep) > self.max_length:
                keep = kept_positions(encoding.sequence_ids, self.max_length, self.truncation)
            pieces: dict[tuple[int, int], list[int]] = {}
            spans: dict[tuple[int, int], list[int]] = {}
            for position, original in enumerate(keep):
                segment = encoding.sequence_ids[original]
                word = encoding.word_ids[original]
                if segment is None or word is None:  # [CLS], [SEP]
                    continue
                start, end = encoding.offsets[original]
                key = (segment, word)
                pieces.setdefault(key, []).append(position)
                span = spans.setdefault(key, [start, end])
                span[0], span[1] = min(span[0], start), max(span[1], end)
            encodings.append(
                WordEncoding(
                    tuple(encoding.ids[position] for position in keep),
                    tuple(encoding.type_ids[position] for position in keep),
                    self._words(inputs[len(encodings)], pieces, spans),
                )
            )
        return encodings

    @staticmethod
    def _words(item, pieces, spans) -> tuple[Word, ...]:
        sources = (item,) if isinstance(item, str) else item
        words = []
        for key in sorted(pieces, key=lambda key: pieces[key][0]):
            start, end = spans[key]
            words.append(Word(sources[key[0]][start:end], start, end, key[0], tuple(pieces[key])))
        return tuple(words)


def chosen_labels(
    probabilities: np.ndarray,
    labels: Sequence[str],
    task: Task,
    thresholds: np.ndarray | None,
    requested: Sequence[str] | None,
) -> list[int]:
    """The label ids to explain for one text: the `requested` ones, else what the model decided
    (single-label: the most probable; multi-label: each label at or above its threshold, or the
    most probable where none is)."""
    if requested:
        return [labels.index(label) for label in requested]
    row = probabilities[None, :]
    if Task(task) is Task.MULTI_LABEL and thresholds is not None:
        decided = np.flatnonzero(decide(row, thresholds)[0]).tolist()
        if decided:
            return decided
    return [int(best_ids(row)[0])]


def check_requested(requested: str | Sequence[str] | None, labels: Sequence[str]) -> list[str]:
    """The labels asked for (one name or several), each checked against the model's."""
    if requested is None:
        return []
    names = [requested] if isinstance(requested, str) else list(requested)
    unknown = [name for name in names if name not in labels]
    if unknown:
        raise InputError(
            f"label {unknown[0]!r} is not one of the model's labels: {', '.join(labels)}."
        )
    return names


def occlude(
    encodings: Sequence[WordEncoding],
    texts: Sequence[str],
    text_pairs: Sequence[str] | None,
    run: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    batch_size: int,
    pad_id: int,
    to_probabilities: Callable[[np.ndarray], np.ndarray],
    labels: Sequence[str],
    task: Task,
    thresholds: np.ndarray | None = None,
    requested: Sequence[str] | None = None,
) -> list[Explanation]:
    """Occlusion attributions of every text (see the module docstring).

    `run(input_ids, attention_mask, token_type_ids)` is one model call on one batch (int64
    arrays); every text and its masked variants (the same length) go through it in batches of
    `batch_size`, all variants of all texts together. `to_probabilities` turns logits into the
    label probabilities the scores are differences of.
    """
    rows, firsts = [], []
    for encoding in encodings:
        firsts.append(len(rows))
        rows.append((encoding, ()))
        rows.extend((encoding, word.positions) for word in encoding.words)
    probabilities = to_probabilities(_batched_logits(rows, run, batch_size, pad_id))
    explanations = []
    for index, (encoding, first) in enumerate(zip(encodings, firsts, strict=True)):
        base = probabilities[first]
        masked = probabilities[first + 1 : first + 1 + len(encoding.words)]
        attributions = tuple(
            Attribution(
                labels[label],
                float(base[label]),
                tuple(float(base[label] - row[label]) for row in masked),
            )
            for label in chosen_labels(base, labels, task, thresholds, requested)
        )
        explanations.append(
            Explanation(
                texts[index],
                None if text_pairs is None else text_pairs[index],
                encoding.words,
                attributions,
                OCCLUSION,
            )
        )
    return explanations


def _batched_logits(rows, run, batch_size: int, pad_id: int) -> np.ndarray:
    """Logits of every `(encoding, hidden positions)` row, in order, from batches of similar
    length (a text's variants share its length, so they fill batches together)."""
    order = sorted(range(len(rows)), key=lambda index: len(rows[index][0].ids))
    logits = None
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        width = len(rows[batch[-1]][0].ids)
        input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(batch), width), dtype=np.int64)
        token_type_ids = np.zeros((len(batch), width), dtype=np.int64)
        for line, index in enumerate(batch):
            encoding, hidden = rows[index]
            length = len(encoding.ids)
            input_ids[line, :length] = encoding.ids
            attention_mask[line, :length] = 1
            token_type_ids[line, :length] = encoding.segments
            for position in hidden:
                input_ids[line, position] = pad_id
                attention_mask[line, position] = 0
        values = np.asarray(run(input_ids, attention_mask, token_type_ids))
        if logits is None:
            logits = np.zeros((len(rows), values.shape[-1]), dtype=np.float32)
        logits[batch] = values
    return logits


__all__ = [
    "INTEGRATED_GRADIENTS",
    "OCCLUSION",
    "Attribution",
    "Explanation",
    "Word",
    "WordEncoder",
    "WordEncoding",
    "check_requested",
    "chosen_labels",
    "occlude",
]
