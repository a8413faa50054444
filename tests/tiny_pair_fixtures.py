"""A tiny learnable sentence-pair task, and one run trained, evaluated and exported on it.

Each pair's two texts carry one class keyword each (`conftest.CLASS_WORDS`), of two different
classes; the label is the class of the second text's keyword. A model that reads the two texts as
one cannot tell which keyword decides: it has to know where the second text starts (the segment
ids and the [SEP] between the texts).
`tiny_pair_run_and_export` trains `conftest.learnable_checkpoint` on it through `fit_run` (with
`text_pair_column`), evaluates it and exports it; the session fixture `conftest.tiny_pair` runs it
once and `test_train`, `test_evaluate`, `test_export`, `test_predictor`, `test_compare` and
`test_cli_errors` share the result.
"""

from __future__ import annotations

import random
from pathlib import Path

from conftest import CLASS_WORDS, FILLER, RunAndExport, train_evaluate_export, write_csv

PAIR_LABELS = sorted(CLASS_WORDS)
PAIR_COLUMNS = ("question1", "question2", "label")
MAX_LENGTH = 32
# What the pair run sets on top of `conftest.tiny_config`. 3e-3 where the single-text task takes
# 1e-3: 1.0 test accuracy on 3 of 4 seeds, 0.88 on the fourth (chance is 1/3).
PAIR_SETTINGS = {"learning_rate": 3e-3, "max_length": MAX_LENGTH, "text_pair_column": "question2"}


def pair_rows(count: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """`count` (text, text_pair, label) rows, balanced over the three classes."""
    rng = random.Random(seed)
    classes = sorted(CLASS_WORDS)

    def sentence(keyword: str) -> str:
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 12))]
        words.insert(rng.randrange(len(words) + 1), keyword)
        return " ".join(words) + " ."

    rows = []
    for index in range(count):
        label = classes[index % len(classes)]
        distractor = rng.choice([name for name in classes if name != label])
        rows.append(
            (
                sentence(rng.choice(CLASS_WORDS[distractor])),
                sentence(rng.choice(CLASS_WORDS[label])),
                label,
            )
        )
    return rows


def write_pair_csv(path: Path, rows: list[tuple[str, str, str]], columns=PAIR_COLUMNS) -> Path:
    return write_csv(path, rows, columns)


def tiny_pair_run_and_export(base: Path, checkpoint: Path) -> RunAndExport:
    """Train (under `base`), evaluate and export the pair run."""
    data = write_pair_csv(base / "pairs.csv", pair_rows(300))
    return train_evaluate_export(base, "pair", checkpoint, data, **PAIR_SETTINGS)
