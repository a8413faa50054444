"""Which columns of a table hold the texts: one rule for training data and for texts to classify.

A column named by the user must exist; otherwise a column is taken only when its name leaves no
doubt (`kerasbert.common.names`). Training and prediction ask the same functions, so a file that
trains on column X is classified on column X.
"""

from __future__ import annotations

from pathlib import Path

from kerasbert.common.errors import InputError
from kerasbert.common.names import TEXT_COLUMN_NAMES, TEXT_PAIR_COLUMN_NAMES

__all__ = ["find_pair_columns", "find_text_column", "listed_pairs", "pick_column"]


def pick_column(
    path: Path | str,
    columns: list[str],
    requested: str | None,
    names: tuple[str, ...],
    kind: str,
) -> str:
    """The `kind` column: `requested` if given, else the one column whose name (any case) is in
    `names`; `InputError` naming the columns and the `--<kind>-column` flag when none or several
    fit."""
    flag = f"--{kind}-column"
    if requested is not None:
        if requested not in columns:
            raise InputError(
                f"{path} has no column {requested!r} (from {flag}). Columns found: {columns}."
            )
        return requested
    found = [name for name in columns if name.lower() in names]
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(
            f"Could not find a {kind} column in {path}. Columns found: {columns}; pass {flag} "
            f"(the names looked for: {', '.join(names)})."
        )
    raise InputError(f"{path} has several possible {kind} columns {found}; choose one with {flag}.")


def find_text_column(path: Path | str, columns: list[str], requested: str | None = None) -> str:
    """The column holding single texts: `requested`, else the only column, else the one column
    named as in `TEXT_COLUMN_NAMES`."""
    if requested is None and len(columns) == 1:
        return columns[0]
    return pick_column(path, columns, requested, TEXT_COLUMN_NAMES, "text")


def listed_pairs(columns: list[str]) -> list[tuple[str, str]]:
    """The pairs of `TEXT_PAIR_COLUMN_NAMES` whose both columns are present (any case), as the
    columns are spelt."""
    lowered = {column.lower(): column for column in columns}
    return [
        (lowered[first], lowered[second])
        for first, second in TEXT_PAIR_COLUMN_NAMES
        if first in lowered and second in lowered
    ]


def find_pair_columns(
    path: Path | str,
    columns: list[str],
    text_column: str | None = None,
    text_pair_column: str | None = None,
) -> tuple[str, str]:
    """The columns holding the first and the second texts of pairs.

    Those named; else the one pair of `TEXT_PAIR_COLUMN_NAMES` present that agrees with the one
    named; else, when only the second is named, the first found as a single text among the other
    columns. `InputError` naming the columns and the flags when no pair or several fit.
    """
    first = second = None
    if text_column is not None:
        first = pick_column(path, columns, text_column, (), "text")
    if text_pair_column is not None:
        second = pick_column(path, columns, text_pair_column, (), "text-pair")
    if first is None or second is None:
        found = [
            pair
            for pair in listed_pairs(columns)
            if first in (None, pair[0]) and second in (None, pair[1])
        ]
        if len(found) > 1:
            raise InputError(
                f"{path} has several possible pairs of text columns {found}; choose with "
                "--text-column and --text-pair-column."
            )
        if found:
            first, second = found[0]
        elif second is not None:
            first = find_text_column(path, [name for name in columns if name != second])
        else:
            raise InputError(
                f"Could not tell which columns of {path} hold the text pairs (columns: "
                f"{columns}); pass --text-column and --text-pair-column."
            )
    if first == second:
        raise InputError(f"{path}: the text and second-text columns are both {first!r}.")
    return first, second
