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


def bert_config(**overrides):
    """The tiny BERT configuration, without dropout so runs are deterministic."""
    from transformers import BertConfig

    values = dict(
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        classifier_dropout=0.0,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: index for index, label in enumerate(LABELS)},
    )
    values.update(overrides)
    return BertConfig(**values)


def make_tiny_checkpoint(directory: Path, seed: int = 0) -> Path:
    """Write a random tiny BERT classifier and its tokenizer to `directory`; returns it."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf
    from transformers import BertTokenizerFast, TFBertForSequenceClassification

    directory.mkdir(parents=True, exist_ok=True)
    vocab_path = directory / "vocab.txt"
    vocab_path.write_text("\n".join(VOCABULARY) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_path), do_lower_case=True)
    tokenizer.save_pretrained(str(directory))
    tf.random.set_seed(seed)
    model = TFBertForSequenceClassification(bert_config())
    model(model.dummy_inputs, training=False)
    model.save_pretrained(str(directory))
    return directory


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
