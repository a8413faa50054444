"""Label cells into label names: one label per text, or several (a separator, lists, 0/1 columns).

`kerasbert.data.readers` finds the label column(s) of a table; this module turns their cells into a
label name per text, or into a sorted tuple of label names per text for multi-label data, and
refuses cells that cannot be read with the rows named.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.common.errors import InputError
from kerasbert.common.names import LABEL_SEPARATORS

logger = logging.getLogger(__name__)

# A separator is taken as splitting labels, unasked, only when it splits more than this share of
# the label cells: a handful of labels that merely contain a comma ("Arts, Culture") must not
# turn single-label data into multi-label data.
MULTI_LABEL_MIN_SHARE = 0.05
MAX_ROWS_LISTED = 10
_TRUE, _FALSE = ("1", "1.0", "true"), ("0", "0.0", "false")


def is_integer(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def label_sort_key(label: str) -> tuple[int, int, str]:
    """Sort integer labels numerically ("2" before "10"), before any others, which sort as text."""
    return (0, int(label), "") if is_integer(label) else (1, 0, label)


def parse_labels(
    values: list[Any],
    path: Path,
    column: str,
    multi_label: bool | None = None,
    separator: str | None = None,
    strict: bool = True,
) -> tuple[list[str] | list[tuple[str, ...]], str, str | None]:
    """Label names, or sorted label tuples (multi-label); how they were written; the separator.

    Args:
        values: the column's cleaned cells: strings, integers or lists of strings.
        path, column: named in errors.
        multi_label: True: tuples even when every cell holds one label; False: one label per
            cell, separators or not; None: tuples when the cells hold lists or a separator is
            given or detected (`detect_separator`).
        separator: what splits several labels in a cell; None: detected.
        strict: refuse a given `separator` that splits no cell, and warn when `multi_label` finds
            a single label per row (right for --data; off for validation and test files).
    """
    if any(isinstance(value, list) for value in values):
        cells = [
            value if isinstance(value, list) else _split(str(value), separator) for value in values
        ]
        return _label_sets(cells, path, column), "JSON lists", separator
    cells = [str(value) for value in values]
    if multi_label is False:
        return normalise_labels(cells, path, column), "one label", None
    if separator is not None:
        splitting = sum(separator in cell for cell in cells)
        if not splitting and strict:
            raise InputError(
                f"--label-separator {separator!r} splits no label in column {column!r} of {path}; "
                f"its labels look like {sorted(set(cells))[:5]}. Give the separator they use."
            )
    elif multi_label:
        separator = _most_used_separator(cells)
    else:
        separator = detect_separator(cells, path, column)
    if separator is None:
        if not multi_label:
            return normalise_labels(cells, path, column), "one label", None
        if strict:
            logger.warning(
                "%s: --multi-label, but every row of column %r has one label (no , ; or |); "
                "each text gets its one label, scored independently of the others.",
                path,
                column,
            )
        return _label_sets([[cell] for cell in cells], path, column), "one label", None
    empty = [number for number, cell in enumerate(cells, 1) if "" in _split(cell, separator)]
    if empty:
        raise InputError(
            f"{path}: {len(empty)} label cell(s) of column {column!r} have an empty label between "
            f"{separator!r} separators (data rows {listed_rows(empty)}). Remove the extra separators."
        )
    cells_split = [_split(cell, separator) for cell in cells]
    return _label_sets(cells_split, path, column), f"separated by {separator!r}", separator


def _split(cell: str, separator: str | None) -> list[str]:
    return [part.strip() for part in cell.split(separator)] if separator else [cell]


def detect_separator(cells: list[str], path: Path, column: str) -> str | None:
    """The separator of several labels per cell, if the cells clearly use one, else None.

    A separator counts when it splits more than `MULTI_LABEL_MIN_SHARE` of the cells into
    non-empty parts, each of which is also a label on its own or part of two different label sets:
    labels of several words with a comma in them ("Arts, Culture") recombine with nothing.
    """
    singles = {cell for cell in cells if not any(sep in cell for sep in LABEL_SEPARATORS)}
    for separator in LABEL_SEPARATORS:
        split = [cell for cell in cells if separator in cell]
        if not split:
            continue
        sets = {frozenset(_split(cell, separator)) for cell in split}
        parts = Counter(part for label_set in sets for part in label_set)
        share = len(split) / len(cells)
        confirmed = all(part and (part in singles or parts[part] > 1) for part in parts)
        if share > MULTI_LABEL_MIN_SHARE and confirmed:
            logger.info(
                "%s: column %r holds several labels per row, separated by %r (%d of %d rows); "
                "read as multi-label. Pass --no-multi-label to keep each cell as one label.",
                path,
                column,
                separator,
                len(split),
                len(cells),
            )
            return separator
        logger.info(
            "%s: %d of %d labels in column %r contain %r; read as single labels (pass "
            "--label-separator %r if they are several labels).",
            path,
            len(split),
            len(cells),
            column,
            separator,
            separator,
        )
    return None


def _most_used_separator(cells: list[str]) -> str | None:
    counts = {separator: sum(separator in cell for cell in cells) for separator in LABEL_SEPARATORS}
    best = max(counts, key=lambda separator: counts[separator])
    return best if counts[best] else None


def _label_sets(cells: list[list[str]], path: Path, column: str) -> list[tuple[str, ...]]:
    """Each row's labels as a sorted tuple without repeats, label spellings normalised."""
    flat = [label for cell in cells for label in cell]
    names = dict(zip(flat, normalise_labels(flat, path, column))) if flat else {}
    return [tuple(sorted({names[label] for label in cell}, key=label_sort_key)) for cell in cells]


def binary_labels(
    rows: list[dict[str, Any]], keys: tuple[str, ...], path: Path
) -> list[tuple[str, ...]]:
    """Labels from 0/1 columns: each row's tuple of the columns that hold 1 (or true)."""
    labels = []
    for number, row in enumerate(rows, start=1):
        present = []
        for key in keys:
            value = row.get(key)
            text = str(value).strip().lower()
            if isinstance(value, (bool, np.bool_)):
                positive = bool(value)
            elif text in _TRUE + _FALSE:
                positive = text in _TRUE
            else:
                raise InputError(
                    f"{path}: column {key!r} (from --label-columns) has {value!r} in data row "
                    f"{number}; label columns hold 0 or 1 (or true/false) only."
                )
            if positive:
                present.append(key)
        labels.append(tuple(sorted(present, key=label_sort_key)))
    never = [key for key in keys if not any(key in label_set for label_set in labels)]
    if never:
        logger.warning(
            "%s: label column(s) %s hold no 1 in any row; no text has them.", path, never
        )
    return labels


def normalise_labels(labels: list[Any], path: Path, column: str) -> list[str]:
    """Labels become strings; integer-like labels keep their integer spelling."""
    as_text = [str(label) for label in labels]
    numeric = [is_integer(label) for label in as_text]
    if any(numeric) and not all(numeric):
        numbers = sorted({label for label, is_number in zip(as_text, numeric) if is_number})[:5]
        words = sorted({label for label, is_number in zip(as_text, numeric) if not is_number})[:5]
        raise InputError(
            f"{path}: column {column!r} mixes numeric labels {numbers} with text labels {words}. "
            "Use one kind of label."
        )
    if all(numeric):
        as_text = [str(int(label)) for label in as_text]
    return as_text


def listed_rows(numbers: list[int]) -> str:
    shown = ", ".join(str(number) for number in numbers[:MAX_ROWS_LISTED])
    return shown + (f", … {len(numbers) - MAX_ROWS_LISTED} more" if len(numbers) > 10 else "")
