"""Perturbed copies of training texts for distillation (Tang et al., 2019, "Distilling
Task-Specific Knowledge from BERT into Simple Neural Networks", section 3.2).

A teacher fine-tuned on its training texts gives them back almost as one-hot targets: on those
texts its soft targets say little more than the labels. On slightly changed texts it is unsure in
the ways it would be on new texts, and those targets are what a student learns from beyond the
labels. Each copy changes every word independently: with `mask_rate` into the tokenizer's mask
token, with `swap_rate` into a word drawn from the training texts' own words; then, with
`span_rate`, only a contiguous span of at least half the words is kept. The copies are
unlabelled: the teacher labels them (a change may change the class).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Augmentation:
    """How each copy is made (Tang et al.'s rates: 0.1, 0.1, 0.25)."""

    copies: int
    mask_rate: float = 0.1
    swap_rate: float = 0.1
    span_rate: float = 0.25


def augment(
    texts: list[str],
    pairs: list[str] | None,
    augmentation: Augmentation,
    mask_token: str,
    seed: int,
) -> tuple[list[str], list[str] | None]:
    """`augmentation.copies` changed copies of each text (pair: both texts changed), in order,
    the same for the same seed. Copies equal to their original are dropped; other duplicates are
    left to the caller's de-duplication."""
    rng = np.random.default_rng(seed)
    sides = [texts] if pairs is None else [texts, pairs]
    vocabulary = sorted({word for side in sides for text in side for word in text.split()})
    out: list[list[str]] = [[] for _ in sides]
    for index in range(len(texts)):
        originals = [side[index] for side in sides]
        for _ in range(augmentation.copies):
            changed = [
                _change(text, augmentation, mask_token, vocabulary, rng) for text in originals
            ]
            if changed != originals:
                for side, text in zip(out, changed):
                    side.append(text)
    return out[0], (out[1] if pairs is not None else None)


def _change(
    text: str,
    augmentation: Augmentation,
    mask_token: str,
    vocabulary: list[str],
    rng: np.random.Generator,
) -> str:
    words = text.split()
    if not words:
        return text
    draws = rng.random(len(words))
    swaps = rng.integers(0, len(vocabulary), len(words))
    changed = [
        mask_token
        if draw < augmentation.mask_rate
        else vocabulary[swap]
        if draw < augmentation.mask_rate + augmentation.swap_rate
        else word
        for word, draw, swap in zip(words, draws, swaps)
    ]
    if len(changed) > 1 and rng.random() < augmentation.span_rate:
        length = int(rng.integers((len(changed) + 1) // 2, len(changed) + 1))
        start = int(rng.integers(0, len(changed) - length + 1))
        changed = changed[start : start + length]
    return " ".join(changed)
