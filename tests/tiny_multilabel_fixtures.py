"""A tiny learnable multi-label task, and one run trained, evaluated and exported on it.

Each text carries the keywords (`conftest.CLASS_WORDS`) of one or two classes and is labelled with
every class whose keyword it holds, the labels separated by "|". `tiny_multilabel_run_and_export`
trains `conftest.learnable_checkpoint` on it through `fit_run` (sigmoid outputs, binary
cross-entropy, thresholds tuned on validation), evaluates and exports it; the session fixture
`conftest.tiny_multilabel` runs it once.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from conftest import CLASS_WORDS, FILLER, RunAndExport, train_evaluate_export, write_csv

LABELS = sorted(CLASS_WORDS)
MAX_LENGTH = 32
# What the multi-label run sets on top of `conftest.tiny_config`.
MULTILABEL_SETTINGS = {"learning_rate": 3e-3, "max_length": MAX_LENGTH, "epochs": 8}


def multilabel_rows(count: int, seed: int = 0) -> list[tuple[str, tuple[str, ...]]]:
    """`count` (text, label set) rows: two in three with one label, one in three with two."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        first = LABELS[index % len(LABELS)]
        chosen = [first]
        if index % 3 == 2:
            chosen.append(rng.choice([name for name in LABELS if name != first]))
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 14))]
        for label in chosen:
            words.insert(rng.randrange(len(words) + 1), rng.choice(CLASS_WORDS[label]))
        rows.append((" ".join(words) + " .", tuple(sorted(chosen))))
    return rows


def write_separated_csv(path: Path, rows, separator: str = "|") -> Path:
    return write_csv(path, [(text, separator.join(labels)) for text, labels in rows])


def write_jsonl_lists(path: Path, rows) -> Path:
    with path.open("w", encoding="utf-8") as file:
        for text, labels in rows:
            file.write(json.dumps({"text": text, "labels": list(labels)}) + "\n")
    return path


def write_binary_columns(path: Path, rows) -> Path:
    table = [(text, *(int(name in labels) for name in LABELS)) for text, labels in rows]
    return write_csv(path, table, columns=("text", *LABELS))


def tiny_multilabel_run_and_export(base: Path, checkpoint: Path) -> RunAndExport:
    """Train (under `base`), evaluate and export the multi-label run."""
    data = write_separated_csv(base / "multilabel.csv", multilabel_rows(300))
    return train_evaluate_export(
        base, "multilabel", checkpoint, data, plots=True, **MULTILABEL_SETTINGS
    )
