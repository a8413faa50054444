"""Labelled text in, clean stratified splits out.

`load_splits` reads the data (`kerasbert.readers`), collapses exact-duplicate texts, and makes
seeded, stratified train / validation / test splits, so no text sits on both sides of a split.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kerasbert.config import TrainConfig
from kerasbert.errors import InputError
from kerasbert.readers import is_integer, read_source

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Examples:
    """Texts and their label names, index-aligned."""

    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def label_ids(self, label_names: list[str]) -> np.ndarray:
        index = {name: position for position, name in enumerate(label_names)}
        return np.array([index[label] for label in self.labels], dtype=np.int32)

    def class_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels).items()))


@dataclass
class DataSplits:
    """The train/validation/test splits of one run and how they were made."""

    train: Examples
    validation: Examples
    test: Examples
    labels: list[str]
    source: str
    duplicates_dropped: int = 0
    conflicting_duplicates_dropped: int = 0
    overlap_dropped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description for `data_summary.json` and the report."""
        return {
            "source": self.source,
            "labels": self.labels,
            "split_sizes": {
                "train": len(self.train),
                "validation": len(self.validation),
                "test": len(self.test),
            },
            "class_counts": {
                "train": self.train.class_counts(),
                "validation": self.validation.class_counts(),
                "test": self.test.class_counts(),
            },
            "duplicates_dropped": self.duplicates_dropped,
            "conflicting_duplicates_dropped": self.conflicting_duplicates_dropped,
            "overlap_dropped": self.overlap_dropped,
        }


def load_splits(
    data: str,
    *,
    validation_data: str | None = None,
    test_data: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.2,
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
    seed: int = 42,
) -> DataSplits:
    """Read the data and return deduplicated, stratified, seeded splits.

    Exact-duplicate texts are collapsed before splitting, so no text sits on both sides of a split;
    with explicit validation/test files, their texts that also occur in training are removed (and
    counted). Labels are sorted (numerically when they are all integers).

    Example:
    >>> splits = load_splits("bbc-headlines")
    >>> splits.labels
    ['business', 'entertainment', 'politics', 'sport', 'tech']
    """
    texts, labels = read_source(data, text_column, label_column)
    examples, duplicates, conflicts = _deduplicate(Examples(texts, labels), data)
    label_names = _sorted_labels(examples.labels)
    if len(label_names) < 2:
        raise InputError(
            f"{data} has only one class ({label_names[0]!r}); a classifier needs at least two. "
            "Check --label-column."
        )

    given: dict[str, Examples] = {}
    for name, path in (("validation", validation_data), ("test", test_data)):
        if path is not None:
            given[name] = Examples(*read_source(path, text_column, label_column))
            _check_known_labels(given[name], label_names, path)

    fractions = {
        name: fraction
        for name, fraction in (("validation", validation_fraction), ("test", test_fraction))
        if name not in given
    }
    train, held_out = _stratified_split(examples, fractions, seed, data)
    splits = {**held_out, **given}

    overlap = {}
    # Texts of --data (whatever split they landed in) and of the other given file are off limits.
    taken = set(examples.texts)
    for name in given:
        kept = [i for i, text in enumerate(splits[name].texts) if text not in taken]
        taken |= set(splits[name].texts)
        overlap[name] = len(splits[name]) - len(kept)
        if overlap[name]:
            logger.warning(
                "Removed %d %s texts that also occur in %s or another split (they would inflate "
                "the scores).",
                overlap[name],
                name,
                data,
            )
            splits[name] = _subset(splits[name], kept)
        if not len(splits[name]):
            raise InputError(f"The {name} file has no rows whose text is not also in {data}.")

    if max_train_samples is not None and max_train_samples < len(train):
        train = _stratified_sample(train, max_train_samples, seed)
    if max_eval_samples is not None:
        for name in ("validation", "test"):
            if max_eval_samples < len(splits[name]):
                splits[name] = _stratified_sample(splits[name], max_eval_samples, seed)

    logger.info(
        "Data %s: %d train / %d validation / %d test, %d classes, %d duplicate texts dropped.",
        data,
        len(train),
        len(splits["validation"]),
        len(splits["test"]),
        len(label_names),
        duplicates,
    )
    return DataSplits(
        train=train,
        validation=splits["validation"],
        test=splits["test"],
        labels=label_names,
        source=data,
        duplicates_dropped=duplicates,
        conflicting_duplicates_dropped=conflicts,
        overlap_dropped=overlap,
    )


def splits_for(config: TrainConfig) -> DataSplits:
    """The splits a run with these settings trains, validates and tests on."""
    return load_splits(
        config.data,
        validation_data=config.validation_data,
        test_data=config.test_data,
        text_column=config.text_column,
        label_column=config.label_column,
        validation_fraction=config.validation_fraction,
        test_fraction=config.test_fraction,
        max_train_samples=config.max_train_samples,
        max_eval_samples=config.max_eval_samples,
        seed=config.seed,
    )


def _sorted_labels(labels: list[str]) -> list[str]:
    unique = set(labels)
    if all(is_integer(label) for label in unique):
        return sorted(unique, key=int)
    return sorted(unique)


def _deduplicate(examples: Examples, source: str) -> tuple[Examples, int, int]:
    """Keep the first copy of each exact-duplicate text; drop texts whose copies disagree."""
    label_sets: dict[str, set[str]] = {}
    for text, label in zip(examples.texts, examples.labels):
        label_sets.setdefault(text, set()).add(label)
    seen: set[str] = set()
    keep, conflicting = [], set()
    for index, text in enumerate(examples.texts):
        if len(label_sets[text]) > 1:
            conflicting.add(text)
            continue
        if text not in seen:
            seen.add(text)
            keep.append(index)
    conflicts = sum(1 for text in examples.texts if text in conflicting)
    duplicates = len(examples) - len(keep) - conflicts
    if duplicates:
        logger.info(
            "%s: dropped %d exact-duplicate texts (kept one copy of each).", source, duplicates
        )
    if conflicts:
        logger.warning(
            "%s: dropped %d rows whose text occurs with different labels (%d distinct texts).",
            source,
            conflicts,
            len(conflicting),
        )
    return _subset(examples, keep), duplicates, conflicts


def _subset(examples: Examples, indices: list[int] | np.ndarray) -> Examples:
    return Examples([examples.texts[i] for i in indices], [examples.labels[i] for i in indices])


def _stratified_split(
    examples: Examples, fractions: dict[str, float], seed: int, source: str
) -> tuple[Examples, dict[str, Examples]]:
    from sklearn.model_selection import train_test_split

    if not fractions:
        return examples, {}
    counts = Counter(examples.labels)
    needed = 1 + len(fractions)
    small = {label: count for label, count in counts.items() if count < needed}
    if small:
        raise InputError(
            f"{source}: class(es) {small} have too few examples to appear in train, "
            f"{' and '.join(fractions)} (each class needs at least {needed}). Add examples, "
            "remove the class, or pass --validation-data/--test-data."
        )
    remaining = np.arange(len(examples))
    remaining_share = 1.0
    held_out = {}
    for name, fraction in fractions.items():
        size = max(len(counts), round(fraction / remaining_share * len(remaining)))
        if size >= len(remaining) - len(counts):
            raise InputError(
                f"{source} has {len(examples)} examples in {len(counts)} classes: too few for a "
                f"stratified {name} split. Add data or pass --{name}-data."
            )
        labels = [examples.labels[i] for i in remaining]
        remaining, taken = train_test_split(
            remaining, test_size=size, stratify=labels, random_state=seed
        )
        held_out[name] = _subset(examples, np.sort(taken))
        remaining_share -= fraction
    return _subset(examples, np.sort(remaining)), held_out


def _stratified_sample(examples: Examples, size: int, seed: int) -> Examples:
    from sklearn.model_selection import train_test_split

    counts = Counter(examples.labels)
    if size < len(counts) or min(counts.values()) < 2:
        rng = np.random.default_rng(seed)
        return _subset(examples, np.sort(rng.choice(len(examples), size, replace=False)))
    kept, _ = train_test_split(
        np.arange(len(examples)), train_size=size, stratify=examples.labels, random_state=seed
    )
    return _subset(examples, np.sort(kept))


def _check_known_labels(examples: Examples, known: list[str], path: str) -> None:
    unseen = sorted(set(examples.labels) - set(known))
    if unseen:
        raise InputError(
            f"{path} has label(s) {unseen} that the training data never uses; the model could "
            f"never predict them. Known labels: {known}."
        )
