"""Long documents as overlapping windows, for training and predictor alike.

A text longer than the model's `max_length` can be truncated (`kerasbert.common.truncation`) or split
into windows of at most `max_length` tokens that overlap by `overlap` text tokens, each wrapped
in the tokenizer's special tokens. Training gives every window its document's label; evaluation,
the export's checks and the predictor average the windows' probabilities. One rule in one place,
free of any tokenizer library, so TensorFlow-side and predictor-side windows are the same tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kerasbert.common.errors import InputError

LONG_DOCUMENTS = ("truncate", "windows")


def check_long_documents(mode: str) -> str:
    """`mode` if it is a long-document mode, else an `InputError` naming the choices."""
    if mode not in LONG_DOCUMENTS:
        raise InputError(
            f"long_documents must be one of {', '.join(LONG_DOCUMENTS)}; got {mode!r}."
        )
    return mode


def default_overlap(room: int) -> int:
    """A quarter of a window's text tokens: each token but the first and last quarter of a
    window is seen with context on both sides in some window."""
    return room // 4


def check_overlap(overlap: int | None, room: int) -> int:
    """The overlap to use for windows of `room` text tokens (None: the default)."""
    if overlap is None:
        return default_overlap(room)
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < room:
        raise InputError(
            f"window overlap must be an integer in [0, {room}) for windows of {room} text "
            f"tokens; got {overlap!r}. Lower --window-overlap or raise --max-length."
        )
    return overlap


def window_spans(length: int, room: int, overlap: int) -> list[tuple[int, int]]:
    """`(start, end)` token spans of a text of `length` tokens: windows of `room` tokens that
    step by `room - overlap`; the last window ends at the text's end. An empty or fitting text
    is one window.

    >>> window_spans(10, 4, 1)
    [(0, 4), (3, 7), (6, 10)]
    >>> window_spans(3, 4, 1)
    [(0, 3)]
    """
    step = room - overlap
    spans = [(0, min(room, length))]
    while spans[-1][1] < length:
        start = spans[-1][0] + step
        spans.append((start, min(start + room, length)))
    return spans


def split_windows(
    texts_ids: Sequence[Sequence[int]],
    prefix: Sequence[int],
    suffix: Sequence[int],
    room: int,
    overlap: int,
) -> tuple[list[list[int]], list[int]]:
    """Windows of each text's ids (without special tokens), wrapped in `prefix` and `suffix`.

    Returns the windows and, for each window, the index of its text.
    """
    windows: list[list[int]] = []
    owners: list[int] = []
    for index, ids in enumerate(texts_ids):
        ids = list(ids)
        for start, end in window_spans(len(ids), room, overlap):
            windows.append([*prefix, *ids[start:end], *suffix])
            owners.append(index)
    return windows, owners


def average_windows(probabilities: np.ndarray, owners: Sequence[int], count: int) -> np.ndarray:
    """Each text's mean of its windows' probabilities, shape `(count, classes)`."""
    owners = np.asarray(owners, dtype=np.int64)
    total = np.zeros((count, probabilities.shape[1]), dtype=np.float64)
    np.add.at(total, owners, probabilities)
    windows_per_text = np.bincount(owners, minlength=count)
    if (windows_per_text == 0).any():
        raise ValueError("every text needs at least one window")
    return (total / windows_per_text[:, None]).astype(np.float32)
