"""Batch prediction that streams: rows are read, classified and written a chunk at a time.

`predict_stream(classifier, input, output)` reads `.csv`, `.tsv`, `.jsonl`, `.txt` or `.parquet`
and writes `.csv`, `.jsonl` or `.parquet`, holding one chunk of rows at a time, so memory stays flat
however large the file is. Output rows keep the input's order and its id column (`id_column`, or
the first of `ID_COLUMN_NAMES` present). The output is written to a hidden file beside it and moved
into place when complete, so a failed run leaves no half-written predictions.

Standard library and numpy only; pyarrow (Parquet) and tqdm (the progress bar) are imported when
used (`pip install kerasbert[stream]`). It works on any classifier with `labels`, `pair`,
`multi_label`, `label_separator` and `classify`
(`kerasbert.inference.predictor.OnnxClassifier`), which `kerasbert.inference.predictor.predict_file`
builds and hands in.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kerasbert.common.errors import InputError
from kerasbert.inference.textfiles import (
    empty_pair_error,
    find_pair_columns,
    find_text_column,
    jsonl_records,
)

logger = logging.getLogger(__name__)

# Rows per chunk: enough texts for the predictor to sort into well-filled length groups, few
# enough that a chunk of long texts and its token ids stay in tens of megabytes.
DEFAULT_CHUNK_SIZE = 2048
ID_COLUMN_NAMES = ("id", "uid", "uuid", "guid", "key", "example_id", "doc_id")
INPUT_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".txt", ".parquet")
OUTPUT_SUFFIXES = (".csv", ".jsonl", ".parquet")
# The text column's name for `.txt` input and for JSONL lines that are plain strings.
TEXT = "text"


def predict_stream(
    classifier: Any,
    input_path: str | Path,
    output_path: str | Path,
    *,
    text_column: str | None = None,
    text_pair_column: str | None = None,
    id_column: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool = True,
) -> int:
    """Classify every row of `input_path` into `output_path`, a chunk at a time; the row count.

    Output columns: the id column (if any), `text` (and `text_pair` for a pair model), then
    `label` and `probability` (a multi-label model: `labels`, joined in CSV by the export's
    `label_separator`, default `|`, and one `probability_<label>` column per label).
    """
    source, target = Path(input_path), Path(output_path)
    check_suffix(source, INPUT_SUFFIXES, "Input")
    check_suffix(target, OUTPUT_SUFFIXES, "Output")
    if not isinstance(chunk_size, int) or chunk_size <= 0:
        raise InputError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    if not source.is_file():
        raise FileNotFoundError(f"Input file {source} does not exist.")
    if classifier.pair and source.suffix.lower() == ".txt":
        raise InputError(
            f"Input file {source} must end in .csv or .jsonl for a model of text pairs (or "
            ".tsv, .parquet), with a column for each text; not '.txt'."
        )
    if text_pair_column is not None and not classifier.pair:
        raise InputError(
            "This model classifies single texts; --text-pair-column is for models trained on "
            "text pairs. Drop it."
        )
    columns, total, chunks = open_rows(source, chunk_size)
    fields = _Fields(source, columns, classifier.pair, text_column, text_pair_column, id_column)
    multi_label = classifier.multi_label
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    count = 0
    bar = _progress_bar(total, enabled=progress)
    try:
        separator = classifier.label_separator
        with _open_sink(partial, target.suffix.lower(), separator) as sink:
            for first_row, rows in chunks:
                inputs, shown = fields.select(rows, first_row)
                scores = classifier.classify(inputs)
                shown.update(_answer_columns(classifier.labels, scores, multi_label))
                sink.write(shown)
                count += len(rows)
                bar.update(len(rows))
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    logger.info("Wrote %d predictions to %s", count, target)
    return count


def check_suffix(path: Path, allowed: tuple[str, ...], kind: str) -> None:
    """Refuse a file type the streaming prediction cannot read or write, naming the ones it can."""
    if path.suffix.lower() not in allowed:
        raise InputError(
            f"{kind} file {path} must end in {', '.join(allowed)}; not {path.suffix or 'nothing'!r}."
        )


def open_rows(path: Path, chunk_size: int) -> tuple[list[str], int | None, Iterator[Any]]:
    """The file's column names, its row count where the format records it (Parquet), and an
    iterator of `(first row number, rows)` chunks, each row a dict of column to value."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _parquet_rows(path, chunk_size)
    handle = path.open(encoding="utf-8-sig", newline="" if suffix in (".csv", ".tsv") else None)
    if suffix in (".csv", ".tsv"):
        reader = csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ",")
        try:
            columns = list(reader.fieldnames or [])
        except UnicodeDecodeError as error:
            handle.close()
            raise InputError(
                f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8."
            ) from error
        return columns, None, _chunked(handle, reader, chunk_size)
    if suffix == ".txt":
        rows = ({TEXT: line.rstrip("\r\n")} for line in handle if line.strip())
        return [TEXT], None, _chunked(handle, rows, chunk_size)
    first, rows = _jsonl_rows(path, handle)
    return list(first), None, _chunked(handle, rows, chunk_size)


def _chunked(handle: Any, rows: Iterator[dict[str, Any]], chunk_size: int) -> Iterator[Any]:
    try:
        chunk: list[dict[str, Any]] = []
        first = 1
        for row in rows:
            chunk.append(row)
            if len(chunk) == chunk_size:
                yield first, chunk
                first, chunk = first + len(chunk), []
        if chunk:
            yield first, chunk
    except UnicodeDecodeError as error:
        raise InputError(
            f"{handle.name} is not UTF-8 text (byte {error.start}); save it as UTF-8."
        ) from error
    finally:
        handle.close()


def _jsonl_rows(path: Path, handle: Any) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The first record (its keys name the columns) and every record, the first included."""

    def records() -> Iterator[dict[str, Any]]:
        for line_number, record in jsonl_records(path, handle):
            if isinstance(record, str):
                record = {TEXT: record}
            if not isinstance(record, dict):
                raise InputError(f"{path}:{line_number} must be a JSON object or string.")
            yield record

    rows = records()
    first = next(rows, None)
    if first is None:
        return {}, iter(())

    def again() -> Iterator[dict[str, Any]]:
        yield first
        yield from rows

    return first, again()


def _parquet_rows(path: Path, chunk_size: int) -> tuple[list[str], int, Iterator[Any]]:
    parquet = _import("pyarrow.parquet", "Parquet files")
    try:
        table = parquet.ParquetFile(path)
    except Exception as error:  # pyarrow's own error classes
        raise InputError(f"{path} is not a readable Parquet file ({error}).") from error
    columns = table.schema_arrow.names

    def chunks() -> Iterator[Any]:
        first = 1
        for batch in table.iter_batches(batch_size=chunk_size):
            rows = batch.to_pylist()
            yield first, rows
            first += len(rows)

    return columns, table.metadata.num_rows, chunks()


class _Fields:
    """Which columns hold the text, the second text and the id, and how to pick them from rows."""

    def __init__(
        self,
        path: Path,
        columns: list[str],
        pair: bool,
        text_column: str | None,
        text_pair_column: str | None,
        id_column: str | None,
    ) -> None:
        self.path, self.pair = path, pair
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

    def select(self, rows: list[dict[str, Any]], first_row: int) -> tuple[list[Any], dict]:
        """The chunk's inputs for the classifier, and the columns shown in the output."""
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
        """A pair missing a half is a broken row, not something to classify (as `read_pairs`)."""
        empty = [first_row + offset for offset, value in enumerate(values) if not value.strip()]
        if empty:
            unit = "data rows" if self.path.suffix.lower() in (".csv", ".tsv") else "rows"
            raise empty_pair_error(self.path, kind, column, unit, empty)

    def _text(self, row: dict[str, Any], column: str, number: int) -> str:
        value = row.get(column)
        if value is None:  # an empty CSV cell or a null: a text without words, as read_texts does
            return ""
        if not isinstance(value, str):
            raise InputError(f"{self.path}: row {number}: {column!r} is not a string: {value!r}.")
        return value


def _answer_columns(labels: list[str], scores: Any, multi_label: bool) -> dict[str, list]:
    probabilities = scores.probabilities
    if multi_label:
        columns: dict[str, list] = {"labels": scores.labels}
        for index, label in enumerate(labels):
            columns[f"probability_{label}"] = [round(float(p), 6) for p in probabilities[:, index]]
        return columns
    best = probabilities.max(axis=1)
    return {"label": scores.labels, "probability": [round(float(p), 6) for p in best]}


class _CsvSink:
    def __init__(self, path: Path, suffix: str, separator: str) -> None:
        self.suffix, self.separator = suffix, separator
        self.handle = path.open("w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.handle) if suffix == ".csv" else None
        self.header_written = False

    def write(self, columns: dict[str, list]) -> None:
        names = list(columns)
        rows = zip(*columns.values())
        if self.writer is None:  # JSONL: one object per row, label sets as JSON lists
            for row in rows:
                self.handle.write(json.dumps(dict(zip(names, row)), ensure_ascii=False) + "\n")
            return
        if not self.header_written:
            self.writer.writerow(names)
            self.header_written = True
        for row in rows:
            self.writer.writerow(
                [self.separator.join(v) if isinstance(v, list) else v for v in row]
            )

    def __enter__(self) -> _CsvSink:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.handle.close()


class _ParquetSink:
    def __init__(self, path: Path) -> None:
        self.arrow = _import("pyarrow", "Parquet files")
        self.parquet = _import("pyarrow.parquet", "Parquet files")
        self.path, self.writer = path, None

    def write(self, columns: dict[str, list]) -> None:
        table = self.arrow.table(columns)
        if self.writer is None:
            self.writer = self.parquet.ParquetWriter(self.path, table.schema)
        else:  # the first chunk's types hold for the file (an id column of nulls, say)
            table = table.cast(self.writer.schema)
        self.writer.write_table(table)

    def __enter__(self) -> _ParquetSink:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.writer is not None:
            self.writer.close()
        else:  # an input without rows still gives a readable file
            self.parquet.write_table(
                self.arrow.table({TEXT: self.arrow.array([], "string")}), self.path
            )


def _open_sink(path: Path, suffix: str, separator: str) -> Any:
    return _ParquetSink(path) if suffix == ".parquet" else _CsvSink(path, suffix, separator)


class _NoBar:
    def update(self, count: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int | None, enabled: bool) -> Any:
    """tqdm's bar (texts and texts/s) on stderr, when tqdm is installed and asked for."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        logger.info("Install tqdm (pip install kerasbert[stream]) for a progress bar.")
        return _NoBar()
    return tqdm(total=total, unit=" texts", unit_scale=True, file=sys.stderr, smoothing=0.1)


def _import(module: str, purpose: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise InputError(
            f"{purpose} need pyarrow: pip install 'kerasbert[stream]' (or pyarrow)."
        ) from None
