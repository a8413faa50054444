"""`Examples`: texts (or text pairs) and their labels, one label or several per text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kerasbert.data.labels import label_sort_key

# Between the two texts of a pair where people read them (report, plots, the job's samples).
PAIR_SEPARATOR = " ‖ "


@dataclass(frozen=True)
class Examples:
    """Texts, their labels and (for sentence pairs) their second texts, index-aligned.

    Args:
        texts: one text per example.
        labels: a label name per example; for multi-label data a sorted tuple of label names per
            example (empty: none of the labels applies).
        text_pairs: the second text of each example, or None for single texts.
    """

    texts: list[str]
    labels: list[str] | list[tuple[str, ...]]
    text_pairs: list[str] | None = None

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.texts):
            raise ValueError(f"{len(self.texts)} texts but {len(self.labels)} labels.")
        if self.text_pairs is not None and len(self.text_pairs) != len(self.texts):
            raise ValueError(f"{len(self.texts)} texts but {len(self.text_pairs)} second texts.")
        kinds = {isinstance(label, (tuple, list)) for label in self.labels}
        if len(kinds) > 1:
            raise ValueError("labels mix single labels with label tuples.")
        if kinds == {True}:
            object.__setattr__(self, "labels", [tuple(label) for label in self.labels])

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def multi_label(self) -> bool:
        """Whether each example has a tuple of labels rather than one label."""
        return bool(self.labels) and isinstance(self.labels[0], tuple)

    def keys(self) -> list[tuple[str, str | None]]:
        """(text, second text or None) per example: what makes two examples the same."""
        pairs = self.text_pairs or [None] * len(self.texts)
        return list(zip(self.texts, pairs))

    def display_texts(self) -> list[str]:
        """One string per example for people to read: the text, or a pair's two texts joined by
        `PAIR_SEPARATOR`."""
        if self.text_pairs is None:
            return list(self.texts)
        return [text + PAIR_SEPARATOR + pair for text, pair in zip(self.texts, self.text_pairs)]

    def label_sets(self) -> list[tuple[str, ...]]:
        """Each example's labels as a tuple (a one-label tuple for single-label data)."""
        return [label if isinstance(label, tuple) else (label,) for label in self.labels]

    def label_names(self) -> list[str]:
        """The distinct label names, sorted (numerically when they are all integers)."""
        unique = {name for labels in self.label_sets() for name in labels}
        return sorted(unique, key=label_sort_key)

    def subset(self, indices: Sequence[int] | np.ndarray) -> Examples:
        """The examples at `indices`, in that order."""
        pairs = self.text_pairs
        return Examples(
            [self.texts[i] for i in indices],
            [self.labels[i] for i in indices],
            [pairs[i] for i in indices] if pairs is not None else None,
        )

    def label_ids(self, label_names: list[str]) -> np.ndarray:
        """int32 class ids (n,), or for multi-label a float32 multi-hot matrix (n, len(names))."""
        index = {name: position for position, name in enumerate(label_names)}
        if not self.multi_label:
            return np.array([index[label] for label in self.labels], dtype=np.int32)
        hot = np.zeros((len(self), len(label_names)), dtype=np.float32)
        for row, labels in enumerate(self.labels):
            hot[row, [index[label] for label in labels]] = 1.0
        return hot

    def class_counts(self) -> dict[str, int]:
        """Examples per label (for multi-label, an example counts once for each of its labels)."""
        if self.multi_label:
            return dict(sorted(Counter(name for labels in self.labels for name in labels).items()))
        return dict(sorted(Counter(self.labels).items()))
