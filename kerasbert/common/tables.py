"""Tables from files: CSV / TSV / JSONL / Parquet into rows of named fields, whatever the encoding.

Only the file's shape is handled here (encodings, delimiters, quoting, long fields); which columns
hold texts and labels is `kerasbert.data.readers`' business.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kerasbert.common.errors import InputError

logger = logging.getLogger(__name__)

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": "\t", ".jsonl": None, ".parquet": None}

Rows = list[dict[str, Any]]


def read_table(path: Path) -> tuple[Rows, list[str]]:
    """Read a `.csv`, `.tsv`, `.txt` (tab-separated), `.jsonl` or `.parquet` file: rows, columns.

    Raises `InputError` for a file that cannot be read as a table, naming it and the fix.
    """
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(
            f"Data file {path} has an unknown extension {suffix or '(none)'!r}; use .csv, .tsv, "
            ".jsonl or .parquet, or a folder with one sub-folder per class."
        )
    try:
        if suffix == ".parquet":
            return _read_parquet(path)
        if suffix == ".jsonl":
            return _read_jsonl(path)
        return _read_delimited(path, TABLE_SUFFIXES[suffix])
    except PermissionError as error:
        raise InputError(f"Cannot read {path}: permission denied.") from error


def decode_text(raw: bytes, source: Path | str) -> str:
    """Decode bytes from UTF-8 (with or without BOM) or UTF-16, else cp1252 with a warning.

    Text never holds NUL bytes: with them, the bytes are UTF-16 without a BOM (NULs in every
    other byte) or not text at all, e.g. an Excel workbook renamed to `.csv`.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16").replace("\r\n", "\n")
    if b"\x00" in raw:
        head = raw[:4096]
        # ASCII characters in UTF-16-LE have their NUL second, in UTF-16-BE first.
        encoding = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            text = ""
        if not text or "\x00" in text:
            raise InputError(
                f"{source} is not a text file (it holds NUL bytes; an Excel workbook?). Save it "
                "as CSV (UTF-8) and try again."
            )
        return text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        logger.warning(
            "%s is not valid UTF-8 (byte %d); read it as Windows-1252.", source, error.start
        )
        text = raw.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


@contextmanager
def _field_limit(size: int) -> Iterator[None]:
    """Let the csv module read fields up to `size` characters, then restore its limit.

    Its default (128 KiB) stops at one long article; no field can be longer than the file itself.
    The limit is process-wide, hence restored however the read ends.
    """
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, size + 1))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _read_delimited(path: Path, delimiter: str) -> tuple[Rows, list[str]]:
    text = decode_text(path.read_bytes(), path)
    if not text.strip():
        raise InputError(f"Data file {path} is empty.")
    with _field_limit(len(text)):
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
        if len(header) == 1:
            # A spreadsheet export with ';' (or a tab-separated .csv) parses as one wide column.
            for candidate in (";", "\t", ",", "|"):
                if candidate != delimiter and candidate in header[0]:
                    logger.warning(
                        "%s has one column with %r in its header; reading it as %r-separated.",
                        path,
                        candidate,
                        candidate,
                    )
                    delimiter = candidate
                    header = next(csv.reader(io.StringIO(text), delimiter=delimiter))
                    break
        header = [name.strip() for name in header]
        duplicated = sorted(name for name, count in Counter(header).items() if count > 1)
        if duplicated:
            raise InputError(
                f"{path} has duplicate column name(s) {duplicated}; rename them so each is unique."
            )
        records = _records(text, delimiter, csv.QUOTE_MINIMAL)
        if delimiter == "\t" and _quotes_swallowed_lines(text, records, len(header)):
            logger.info(
                "%s: read with quoting off: double quotes in its texts are characters, not field "
                "quotes (as in GLUE's TSV files).",
                path,
            )
            records = _records(text, delimiter, csv.QUOTE_NONE)
    rows = []
    for number, values in enumerate(records[1:], start=1):
        if not values or all(not value.strip() for value in values):
            continue
        if len(values) > len(header):
            raise InputError(
                f"{path} data row {number} has {len(values)} fields but the header has "
                f"{len(header)}; quote fields that contain {delimiter!r}."
            )
        rows.append(dict(zip(header, values)))
    return rows, header


def _records(text: str, delimiter: str, quoting: int) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=delimiter, quoting=quoting))


def _quotes_swallowed_lines(text: str, records: list[list[str]], width: int) -> bool:
    """Whether quoting misreads the file, as a stray `"` does in GLUE's TSV files.

    With quoting off, such a file has every line a row of `width` fields; with quoting on, a field
    that opens with `"` runs on to the next `"`, taking delimiters (and lines) with it, so rows come
    out short or merged. A spreadsheet export's quoted line breaks and tabs leave short lines with
    quoting off, so it keeps its quoting.
    """
    lines = [line for line in text.split("\n") if line.strip()]
    kept = [values for values in records if values and any(value.strip() for value in values)]
    if len(kept) == len(lines) and all(len(values) == width for values in kept):
        return False
    return all(len(line.split("\t")) == width for line in lines)


def _read_jsonl(path: Path) -> tuple[Rows, list[str]]:
    text = decode_text(path.read_bytes(), path)
    if not text.strip():
        raise InputError(f"Data file {path} is empty.")
    rows, columns = [], {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{path} line {number} is not valid JSON: {error.msg}.") from error
        if not isinstance(row, dict):
            raise InputError(f"{path} line {number} must be a JSON object with named fields.")
        rows.append(row)
        columns.update(dict.fromkeys(row))
    return rows, list(columns)


def _read_parquet(path: Path) -> tuple[Rows, list[str]]:
    try:
        import pyarrow.parquet as parquet
    except ImportError as error:
        raise InputError(
            f"Reading {path} needs pyarrow: pip install 'kerasbert[stream]' (or pyarrow)."
        ) from error
    try:
        table = parquet.read_table(path)
    except Exception as error:  # pyarrow raises several unrelated types for a bad file
        raise InputError(f"Could not read {path} as Parquet: {error}") from error
    columns = [str(name) for name in table.column_names]
    duplicated = sorted(name for name, count in Counter(columns).items() if count > 1)
    if duplicated:
        raise InputError(f"{path} has duplicate column name(s) {duplicated}; make them unique.")
    return table.rename_columns(columns).to_pylist(), columns
