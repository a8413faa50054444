"""A tiny random BERT checkpoint and a tiny labelled data set, for the strategy, distributed and
notebook tests.

The checkpoint is a Hugging Face directory (`config.json`, `tf_model.h5`, tokenizer files) that
`--model` accepts, with a 1-layer BERT of hidden size 16 over a 40-token vocabulary. Its
classification head is saved too, so every load starts from identical weights; dropout is off, so
runs on different device layouts can be compared number for number.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

LABELS = ["sport", "tech"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Each label has its own words; the shared words make the task less than trivial.
LABEL_WORDS = {
    "sport": "match goal team cup win coach player league score".split(),
    "tech": "phone chip app web data code robot cloud screen".split(),
}
SHARED_WORDS = "the a of new big says after first".split()
VOCABULARY = SPECIALS + LABEL_WORDS["sport"] + LABEL_WORDS["tech"] + SHARED_WORDS
MAX_LENGTH = 16


def make_tiny_checkpoint(directory: Path, seed: int = 0) -> Path:
    """Write a random tiny BERT classifier (head saved, no dropout, so every load starts from the
    same weights and device layouts compare number for number) and its tokenizer."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from conftest import save_tiny_bert

    return save_tiny_bert(
        directory,
        VOCABULARY,
        LABELS,
        seed=seed,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        classifier_dropout=0.0,
    )


def examples(count: int, seed: int = 0) -> list[dict[str, str]]:
    """`count` texts of 3 to 12 words, alternating labels, each with some words of its label."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for index in range(count):
        label = LABELS[index % len(LABELS)]
        length = int(rng.integers(3, 13))
        pool = LABEL_WORDS[label] + SHARED_WORDS
        words = [pool[int(i)] for i in rng.integers(0, len(pool), size=length)]
        rows.append({"text": " ".join(words), "label": label})
    return rows


def write_tiny_csv(path: Path, count: int = 80, seed: int = 0) -> Path:
    """A CSV with `text` and `label` columns, as `--data` reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(examples(count, seed))
    return path
