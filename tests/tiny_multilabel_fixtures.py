"""A tiny learnable multi-label task, and one run trained, evaluated and exported on it.

Each text carries the keywords (`conftest.CLASS_WORDS`) of one or two classes and is labelled with
every class whose keyword it holds, the labels separated by "|". `tiny_multilabel_run_and_export`
trains `conftest.learnable_checkpoint` on it through `fit_run` (sigmoid outputs, binary
cross-entropy, thresholds tuned on validation), evaluates and exports it; the session fixture
`conftest.tiny_multilabel` runs it once.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from conftest import CLASS_WORDS, FILLER, RunAndExport, tiny_config, train_evaluate_export

LABELS = sorted(CLASS_WORDS)
MAX_LENGTH = 32


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
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label"])
        writer.writerows((text, separator.join(labels)) for text, labels in rows)
    return path


def write_jsonl_lists(path: Path, rows) -> Path:
    with path.open("w", encoding="utf-8") as file:
        for text, labels in rows:
            file.write(json.dumps({"text": text, "labels": list(labels)}) + "\n")
    return path


def write_binary_columns(path: Path, rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", *LABELS])
        writer.writerows((text, *(int(name in labels) for name in LABELS)) for text, labels in rows)
    return path


def tiny_multilabel_run_and_export(base: Path, checkpoint: Path) -> RunAndExport:
    """Train (under `base`), evaluate and export the multi-label run."""
    run_dir = base / "multilabel-run"

    def make_config():
        data = write_separated_csv(base / "multilabel.csv", multilabel_rows(300))
        return tiny_config(
            checkpoint, data, run_dir, learning_rate=3e-3, max_length=MAX_LENGTH, epochs=8
        )

    return train_evaluate_export(run_dir, base / "multilabel-export", make_config, plots=True)
