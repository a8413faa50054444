"""Texts and text pairs to classify, from `.csv`, `.tsv`, `.jsonl`, `.txt` and `.parquet` files.

Files are read by the reader training uses (`kerasbert.common.tables`: the same encodings,
delimiters and quoting), their text columns found by the same rule (`kerasbert.common.columns`).
`read_texts`/`read_pairs` collect a whole file; `kerasbert.inference.stream` (what `kerasbert
predict --input FILE` runs) takes `input_table`'s chunks through `InputColumns` one at a time.
Like the predictor, it needs only the standard library (and pyarrow for Parquet).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from kerasbert.common.columns import find_pair_columns, find_text_column
from kerasbert.common.errors import InputError
from kerasbert.common.tables import (
    DEFAULT_CHUNK_ROWS,
    PLAIN_TEXT_COLUMN,
    Rows,
    Table,
    open_table,
    open_text,
)

__all__ = [
    "ID_COLUMN_NAMES",
    "INPUT_SUFFIXES",
    "TEXT",
    "InputColumns",
    "check_suffix",
    "input_table",
    "read_pairs",
    "read_texts",
]

ID_COLUMN_NAMES = ("id", "uid", "uuid", "guid", "key", "example_id", "doc_id")
INPUT_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".txt", ".parquet")
# The text column's name in the output, and for `.txt` input and JSONL lines that are strings.
TEXT = PLAIN_TEXT_COLUMN


def read_texts(input_path: str | Path, text_column: str | None = None) -> list[str]:
    """Read the texts of a `.csv`, `.tsv`, `.jsonl`, `.txt` or `.parquet` file.

    A `.txt` file holds one text per line; blank lines are skipped. A table needs named columns
    (a header row); a `.jsonl` line may also be a plain JSON string. Without `text_column` the only
    column is used, else the one column named as in `kerasbert.common.names.TEXT_COLUMN_NAMES`.
    """
    texts, _ = _read(Path(input_path), False, text_column, None)
    return texts


def read_pairs(
    input_path: str | Path, text_column: str | None = None, text_pair_column: str | None = None
) -> tuple[list[str], list[str]]:
    """Read the text pairs of a `.csv`, `.tsv`, `.jsonl` or `.parquet` file: the texts, the
    second texts.

    Columns not named are detected: the one pair of `TEXT_PAIR_COLUMN_NAMES` present (e.g.
    sentence1/sentence2, question1/question2), or the partner of the one column named. Every row
    needs both texts: a row with an empty or missing one is refused with its row number, since a
    pair missing a half is a broken row rather than something to classify.
    """
    texts, seconds = _read(Path(input_path), True, text_column, text_pair_column)
    return texts, seconds or []


def _read(
    path: Path, pair: bool, text_column: str | None, text_pair_column: str | None
) -> tuple[list[str], list[str] | None]:
    check_suffix(path, INPUT_SUFFIXES, "Input")
    if not path.is_file():
        raise FileNotFoundError(f"Input file {path} does not exist.")
    table = input_table(path)
    columns = InputColumns(path, table.columns, pair, text_column, text_pair_column)
    texts: list[str] = []
    seconds: list[str] | None = [] if pair else None
    for rows in table.chunks:
        inputs, _ = columns.select(rows, len(texts) + 1)
        if seconds is None:
            texts.extend(inputs)
        else:
            texts.extend(first for first, _ in inputs)
            seconds.extend(second for _, second in inputs)
    return texts, seconds


def check_suffix(path: Path, allowed: tuple[str, ...], kind: str) -> None:
    """Refuse a file type that cannot be read or written, naming the ones that can."""
    if path.suffix.lower() not in allowed:
        raise InputError(
            f"{kind} file {path} must end in {', '.join(allowed)}; not {path.suffix or 'nothing'!r}."
        )


def input_table(path: Path, chunk_size: int = DEFAULT_CHUNK_ROWS) -> Table:
    """A file of texts to classify, opened to stream its rows: a `.txt` file is one text per
    line (column `TEXT`); any other is a table (`kerasbert.common.tables.open_table`)."""
    if path.suffix.lower() != ".txt":
        return open_table(path, chunk_size)

    def chunks() -> Iterator[Rows]:
        with open_text(path) as lines:
            texts = ({TEXT: line.rstrip("\n")} for line in lines if line.strip())
            while chunk := list(islice(texts, chunk_size)):
                yield chunk

    return Table(path, [TEXT], None, chunks())


class InputColumns:
    """Which columns of a file hold the text, the second text and the id, and their values.

    Args:
        path: the file (for error messages).
        columns: its column names.
        pair: whether the model classifies text pairs.
        text_column, text_pair_column: the columns named by the user, or None to detect them
            (`kerasbert.common.columns`).
        id_column: the id column to carry into the output; None: the first of `ID_COLUMN_NAMES`
            present.
    """

    def __init__(
        self,
        path: Path,
        columns: list[str],
        pair: bool,
        text_column: str | None = None,
        text_pair_column: str | None = None,
        id_column: str | None = None,
    ) -> None:
        self.path, self.pair = path, pair
        if pair and path.suffix.lower() == ".txt":
            raise InputError(
                f"Input file {path} must end in .csv or .jsonl for a model of text pairs (or "
                ".tsv, .parquet), with a column for each text; not '.txt'."
            )
        if pair:
            self.text, self.second = find_pair_columns(path, columns, text_column, text_pair_column)
        else:
            self.text, self.second = find_text_column(path, columns, text_column), None
        if id_column is not None and id_column not in columns:
            raise InputError(f"{path} has no column {id_column!r} (from --id-column): {columns}.")
        lowered = {column.lower(): column for column in columns}
        detected = next((lowered[name] for name in ID_COLUMN_NAMES if name in lowered), None)
        self.id = id_column or detected
        if self.id in (self.text, self.second):
            self.id = None

    def select(self, rows: Rows, first_row: int) -> tuple[list[Any], dict[str, list[Any]]]:
        """The inputs for the classifier (texts, or `(text, text_pair)` tuples) of rows numbered
        from `first_row`, and the columns shown in the output: the id, `text`, `text_pair`."""
        texts = [self._text(row, self.text, first_row + offset) for offset, row in enumerate(rows)]
        shown: dict[str, list[Any]] = {}
        if self.id is not None:
            shown[self.id] = [row.get(self.id) for row in rows]
        shown[TEXT] = texts
        if not self.pair:
            return texts, shown
        seconds = [
            self._text(row, self.second, first_row + offset) for offset, row in enumerate(rows)
        ]
        for column, kind, values in ((self.text, "text", texts), (self.second, "second text", seconds)):  # fmt: skip
            self._refuse_empty(column, kind, values, first_row)
        shown["text_pair"] = seconds
        return list(zip(texts, seconds)), shown

    def _refuse_empty(self, column: str, kind: str, values: list[str], first_row: int) -> None:
        """A pair missing a half is a broken row, not something to classify."""
        empty = [first_row + offset for offset, value in enumerate(values) if not value.strip()]
        if empty:
            unit = "data rows" if self.path.suffix.lower() in (".csv", ".tsv") else "rows"
            shown = ", ".join(str(number) for number in empty[:10])
            more = f" and {len(empty) - 10} more" if len(empty) > 10 else ""
            raise InputError(
                f"{self.path}: {len(empty)} row(s) have no {kind} in column {column!r} ({unit} "
                f"{shown}{more}); every row needs both texts of its pair. Fill them in or remove "
                "those rows."
            )

    def _text(self, row: dict[str, Any], column: str, number: int) -> str:
        value = row.get(column)
        if value is None:  # an empty CSV cell or a null: a text without words
            return ""
        if not isinstance(value, str):
            raise InputError(f"{self.path}: row {number}: {column!r} is not a string: {value!r}.")
        return value
