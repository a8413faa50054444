"""Texts and text pairs to classify, read from `.csv`, `.jsonl` and `.txt` files (stdlib only).

`read_texts`/`read_pairs` read a whole file into lists; `kerasbert.inference.stream` (what `kerasbert
predict --input FILE` and `kerasbert.inference.predictor.predict_file` run) reads it a chunk at a time and
finds its columns with `find_text_column`/`find_pair_columns`. Like the
predictor, it imports nothing beyond the standard library, so it works wherever the predictor is
installed. Column names not given are guessed from `kerasbert.common.names`'s prediction names.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kerasbert.common.errors import InputError
from kerasbert.common.names import PREDICTION_TEXT_COLUMN_NAMES, TEXT_PAIR_COLUMN_NAMES

__all__ = [
    "empty_pair_error",
    "find_pair_columns",
    "find_text_column",
    "jsonl_records",
    "read_pairs",
    "read_texts",
]


def read_texts(input_path: str | Path, text_column: str | None = None) -> list[str]:
    """Read the texts of a `.csv`, `.jsonl` or `.txt` file (stdlib only, no pandas).

    A `.txt` file holds one text per line; blank lines are skipped. A `.csv` file needs a header
    row; a `.jsonl` file holds one JSON object (or one JSON string) per line. Without
    `text_column` the only column is used, else the first of `PREDICTION_TEXT_COLUMN_NAMES` present.
    """
    path = Path(input_path)
    if not path.is_file():
        raise FileNotFoundError(f"Input file {path} does not exist.")
    try:
        return _read_texts(path, text_column)
    except UnicodeDecodeError as error:
        raise InputError(
            f"Input file {path} is not UTF-8 text (byte {error.start}); save it as UTF-8."
        ) from error


def _read_texts(path: Path, text_column: str | None) -> list[str]:
    suffix = path.suffix.lower()
    if suffix == ".txt":
        with path.open(encoding="utf-8-sig") as lines:
            return [line.rstrip("\r\n") for line in lines if line.strip()]
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            column = find_text_column(path, reader.fieldnames or [], text_column)
            return [row[column] or "" for row in reader]
    if suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(path, text_column)
    raise InputError(f"Input file {path} must end in .csv, .jsonl or .txt, not {suffix!r}.")


def jsonl_records(path: Path, lines: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """Each non-blank line's number and its parsed JSON value; `InputError` naming the line
    that is not JSON."""
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield line_number, json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{path}:{line_number} is not valid JSON: {error}") from error


def _read_jsonl(path: Path, text_column: str | None) -> list[str]:
    texts: list[str] = []
    column: str | None = None
    with path.open(encoding="utf-8-sig") as lines:
        for line_number, record in jsonl_records(path, lines):
            if isinstance(record, str):
                texts.append(record)
                continue
            if not isinstance(record, dict):
                raise InputError(f"{path}:{line_number} must be a JSON object or string.")
            if column is None:
                column = find_text_column(path, list(record), text_column)
            value = record.get(column)
            if not isinstance(value, str):
                raise InputError(f"{path}:{line_number}: {column!r} is missing or not a string.")
            texts.append(value)
    return texts


def find_text_column(path: Path, columns: list[str], requested: str | None) -> str:
    """The column holding the texts: `requested`, else the only column, else the first of
    `PREDICTION_TEXT_COLUMN_NAMES` present; `InputError` naming the columns if none fits."""
    if requested is not None:
        if requested not in columns:
            raise InputError(f"{path} has no column {requested!r}; its columns: {columns}.")
        return requested
    if len(columns) == 1:
        return columns[0]
    lowered = {column.lower(): column for column in columns}
    for candidate in PREDICTION_TEXT_COLUMN_NAMES:
        if candidate in lowered:
            return lowered[candidate]
    raise InputError(
        f"Could not tell which column of {path} holds the text (columns: {columns}); "
        "pass --text-column."
    )


def read_pairs(
    input_path: str | Path, text_column: str | None = None, text_pair_column: str | None = None
) -> tuple[list[str], list[str]]:
    """Read the text pairs of a `.csv` or `.jsonl` file (stdlib only): the texts, the second texts.

    Columns not named are detected: the one pair of `TEXT_PAIR_COLUMN_NAMES` present (e.g.
    sentence1/sentence2, question1/question2), or the partner of the one column named. Every row
    needs both texts: a row with an empty or missing one is refused with its row number, since a
    pair missing a half is a broken row rather than something to classify.
    """
    path = Path(input_path)
    if not path.is_file():
        raise FileNotFoundError(f"Input file {path} does not exist.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                names = reader.fieldnames or []
                columns = find_pair_columns(path, names, text_column, text_pair_column)
                rows = [(number, row) for number, row in enumerate(reader, start=1)]
        elif suffix in (".jsonl", ".ndjson"):
            rows = _read_jsonl_records(path)
            names = list(dict.fromkeys(key for _, record in rows for key in record))
            columns = find_pair_columns(path, names, text_column, text_pair_column)
        else:
            raise InputError(
                f"Input file {path} must end in .csv or .jsonl for a model of text pairs, with a "
                f"column for each text; not {suffix!r}."
            )
    except UnicodeDecodeError as error:
        raise InputError(
            f"Input file {path} is not UTF-8 text (byte {error.start}); save it as UTF-8."
        ) from error
    unit = "data rows" if suffix == ".csv" else "lines"
    values: list[list[str]] = [[], []]
    for column, kind, found in zip(columns, ("text", "second text"), values, strict=True):
        empty = []
        for number, row in rows:
            value = row.get(column)
            if not isinstance(value, str) or not value.strip():
                empty.append(number)
            found.append(value)
        if empty:
            raise empty_pair_error(path, kind, column, unit, empty)
    return values[0], values[1]


def empty_pair_error(path: Path, kind: str, column: str, unit: str, rows: list[int]) -> InputError:
    """The error for pairs missing a half: which column, how many rows, the first ten."""
    shown = ", ".join(str(number) for number in rows[:10])
    more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
    return InputError(
        f"{path}: {len(rows)} row(s) have no {kind} in column {column!r} ({unit} {shown}{more}); "
        "every row needs both texts of its pair. Fill them in or remove those rows."
    )


def _read_jsonl_records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    records = []
    with path.open(encoding="utf-8-sig") as lines:
        for line_number, record in jsonl_records(path, lines):
            if not isinstance(record, dict):
                raise InputError(
                    f"{path}:{line_number} must be a JSON object with both texts of a pair."
                )
            records.append((line_number, record))
    return records


def find_pair_columns(
    path: Path, columns: list[str], text_column: str | None, text_pair_column: str | None
) -> tuple[str, str]:
    """The columns holding the first and second texts of pairs: those named, else the one pair of
    `TEXT_PAIR_COLUMN_NAMES` present that agrees with the one named; `InputError` otherwise."""
    flags = {"--text-column": text_column, "--text-pair-column": text_pair_column}
    for flag, requested in flags.items():
        if requested is not None and requested not in columns:
            raise InputError(
                f"{path} has no column {requested!r} (from {flag}); its columns: {columns}."
            )
    if text_column is not None and text_pair_column is not None:
        return text_column, text_pair_column
    lowered = {column.lower(): column for column in columns}
    found = [
        (lowered[first], lowered[second])
        for first, second in TEXT_PAIR_COLUMN_NAMES
        if first in lowered and second in lowered
    ]
    found = [
        (first, second)
        for first, second in found
        if text_column in (None, first) and text_pair_column in (None, second)
    ]
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(
            f"Could not tell which columns of {path} hold the text pairs (columns: {columns}); "
            "pass --text-column and --text-pair-column."
        )
    raise InputError(
        f"{path} has several possible pairs of text columns {found}; choose with --text-column "
        "and --text-pair-column."
    )
