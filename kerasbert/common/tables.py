"""Tables from files: CSV / TSV / JSONL / Parquet into rows of named fields, whatever the encoding.

One reader for training and prediction alike. `open_table` streams a file's rows a chunk at a
time with memory flat in the file's size (what `kerasbert predict --input` runs); `read_table`
collects the same rows for training; `decode_text` and `open_text` decode other text (a `.txt`
file of a class folder or of texts to classify, the built-in corpus) by the same encoding rule.

Only the file's shape is handled here (encodings, delimiters, quoting, long fields); which columns
hold texts is `kerasbert.common.columns`' business, which hold labels `kerasbert.data.readers`'.
Standard library only; pyarrow is imported when a Parquet file is read.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO

from kerasbert.common.errors import InputError

logger = logging.getLogger(__name__)

# The delimiter of each delimited suffix (`.txt` is tab-separated, as spreadsheets save "Text");
# None for formats that name their fields themselves.
TABLE_SUFFIXES = {
    ".csv": ",",
    ".tsv": "\t",
    ".txt": "\t",
    ".jsonl": None,
    ".ndjson": None,
    ".parquet": None,
}
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
# The column of a JSONL line that is a plain JSON string (and of a line of a `.txt` file of texts).
PLAIN_TEXT_COLUMN = "text"
# Delimiters tried, in this order, when a header parses as one column that holds one of them.
SNIFFED_DELIMITERS = (";", "\t", ",", "|")
DEFAULT_CHUNK_ROWS = 1024
# Bytes per read while the encoding is checked: the check's memory, whatever the file's size.
_BLOCK_BYTES = 1 << 18

Row = dict[str, Any]
Rows = list[Row]


@dataclass(frozen=True)
class Table:
    """A table file opened for reading.

    Args:
        path: the file.
        columns: its column names, in file order (JSONL: the first record's keys).
        row_count: its number of rows where the format records it (Parquet), else None.
        chunks: its rows, each a dict of column to value, in lists of at most `chunk_size`; the
            file is opened when the first chunk is asked for and closed after the last.
    """

    path: Path
    columns: list[str]
    row_count: int | None
    chunks: Iterator[Rows]


def read_table(path: Path) -> tuple[Rows, list[str]]:
    """Read a `.csv`, `.tsv`, `.txt` (tab-separated), `.jsonl` or `.parquet` file: rows, columns.

    The rows are those `open_table` streams; a JSONL file's columns are every key of every
    record, in order of first appearance. Raises `InputError` for a file that cannot be read as
    a table, naming it and the fix.
    """
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(
            f"Data file {path} has an unknown extension {suffix or '(none)'!r}; use .csv, .tsv, "
            ".jsonl or .parquet, or a folder with one sub-folder per class."
        )
    table = open_table(path)
    try:
        rows = [row for chunk in table.chunks for row in chunk]
    except PermissionError as error:
        raise InputError(f"Cannot read {path}: permission denied.") from error
    if suffix in _JSONL_SUFFIXES:
        return rows, list(dict.fromkeys(key for row in rows for key in row))
    return rows, table.columns


def open_table(path: Path, chunk_size: int = DEFAULT_CHUNK_ROWS) -> Table:
    """Open a table file of a `TABLE_SUFFIXES` type to stream its rows, `chunk_size` at a time.

    Delimited text is decoded by the rule of `decode_text`; a header that parses as one column
    holding `;`, a tab, `,` or `|` is split on that instead (a spreadsheet's export); a tab-separated
    file whose double quotes would swallow lines is read with quoting off (GLUE's TSV files).
    Header names are stripped and must be unique. Raises `InputError` naming the file and the fix.
    """
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(
            f"{path} is not a table file: use one of {', '.join(TABLE_SUFFIXES)}, not "
            f"{suffix or 'no extension'!r}."
        )
    try:
        if suffix == ".parquet":
            return _parquet_table(path, chunk_size)
        encoding = _detect_file_encoding(path)
        if suffix in _JSONL_SUFFIXES:
            return _jsonl_table(path, encoding, chunk_size)
        return _delimited_table(path, encoding, TABLE_SUFFIXES[suffix], chunk_size)
    except PermissionError as error:
        raise InputError(f"Cannot read {path}: permission denied.") from error


def open_text(path: Path) -> TextIO:
    """Open a text file for reading, decoded by the rule of `decode_text`, line ends as `\\n`."""
    return _open_decoded(path, _detect_file_encoding(path))


def decode_text(raw: bytes, source: Path | str) -> str:
    """Decode bytes as UTF-16 (a BOM, or NULs in every other byte: LE or BE), else UTF-8 (with or
    without BOM) when all of them are valid UTF-8, else Windows-1252 with one warning naming
    `source` and the first byte that is not UTF-8. Line ends come out as `\\n`.

    Text never holds NUL characters: bytes that decode to one are not text (an Excel workbook
    renamed to `.csv`, say) and raise `InputError`.
    """
    encoding = _detect_encoding(io.BytesIO(raw), source)
    with _text_stream(io.BytesIO(raw), encoding) as text:
        return text.read()


def _detect_file_encoding(path: Path) -> str:
    with path.open("rb") as binary:
        return _detect_encoding(binary, path)


def _detect_encoding(binary: BinaryIO, source: Path | str) -> str:
    """The codec that reads these bytes, checked over all of them a block at a time."""
    head = binary.read(_BLOCK_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif b"\x00" in head:
        # ASCII characters in UTF-16-LE have their NUL second, in UTF-16-BE first.
        encoding = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
    else:
        encoding = "utf-8-sig"
    utf16 = encoding != "utf-8-sig"
    decoder = codecs.getincrementaldecoder(encoding)()
    not_utf8_at = None
    offset, block = 0, head
    while True:
        final = not block
        # In UTF-8 and Windows-1252 a NUL character is a NUL byte.
        if not utf16 and (nul := block.find(b"\x00")) >= 0:
            raise _not_text(source, offset + nul)
        if not_utf8_at is None:
            pending = len(decoder.getstate()[0])  # bytes of a character cut by the last block
            try:
                text = decoder.decode(block, final=final)
            except UnicodeDecodeError as error:
                if utf16:
                    raise _not_text(source, offset - pending + error.start) from error
                not_utf8_at = offset - pending + error.start
            else:
                if "\x00" in text:
                    raise _not_text(source, None)
        if final:
            break
        offset += len(block)
        block = binary.read(_BLOCK_BYTES)
    if not_utf8_at is None:
        return encoding
    logger.warning("%s is not valid UTF-8 (byte %d); read it as Windows-1252.", source, not_utf8_at)
    return "cp1252"


def _not_text(source: Path | str, byte: int | None) -> InputError:
    where = f" at byte {byte}" if byte is not None else ""
    return InputError(
        f"{source} is not a text file (it holds bytes that are not text{where}, NULs say; an "
        "Excel workbook?). Save it as CSV (UTF-8) and try again."
    )


def _text_stream(binary: IO[bytes], encoding: str) -> TextIO:
    # Windows-1252 leaves 5 byte values undefined: they become U+FFFD rather than an error, as
    # the file is taken as Windows-1252 only because it is not UTF-8. newline=None reads \r\n
    # and \r as \n, inside quoted fields too, so a text is the same whatever wrote the file.
    errors = "replace" if encoding == "cp1252" else "strict"
    return io.TextIOWrapper(binary, encoding=encoding, errors=errors, newline=None)


def _open_decoded(path: Path, encoding: str) -> TextIO:
    return _text_stream(path.open("rb"), encoding)


@contextmanager
def _field_limit(size: int) -> Iterator[None]:
    """Let the csv module read fields up to `size` characters, then restore its limit.

    Its default (128 KiB) stops at one long article; no field can be longer than the file itself.
    The limit is process-wide, hence restored however the read ends, and while a stream waits
    between chunks.
    """
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, size + 1))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _records(path: Path, lines: Iterable[str], delimiter: str, quoting: int) -> Iterator[list[str]]:
    """The file's records, blank ones skipped; `InputError` naming the line csv cannot parse."""
    reader = csv.reader(lines, delimiter=delimiter, quoting=quoting)
    try:
        for values in reader:
            if values and any(value.strip() for value in values):
                yield values
    except csv.Error as error:
        raise InputError(f"{path} line {reader.line_num} cannot be read: {error}.") from error


def _delimited_table(path: Path, encoding: str, delimiter: str, chunk_size: int) -> Table:
    size = path.stat().st_size
    with _open_decoded(path, encoding) as handle, _field_limit(size):
        header = next(_records(path, handle, delimiter, csv.QUOTE_MINIMAL), None)
    if header is None:
        raise InputError(f"File {path} is empty.")
    if len(header) == 1:
        # A spreadsheet export with ';' (or a tab-separated .csv) parses as one wide column.
        for candidate in SNIFFED_DELIMITERS:
            if candidate != delimiter and candidate in header[0]:
                logger.warning(
                    "%s has one column with %r in its header; reading it as %r-separated.",
                    path,
                    candidate,
                    candidate,
                )
                delimiter = candidate
                with _open_decoded(path, encoding) as handle, _field_limit(size):
                    header = next(_records(path, handle, delimiter, csv.QUOTE_MINIMAL))
                break
    header = [name.strip() for name in header]
    duplicated = sorted(name for name, count in Counter(header).items() if count > 1)
    if duplicated:
        raise InputError(
            f"{path} has duplicate column name(s) {duplicated}; rename them so each is unique."
        )
    quoting = csv.QUOTE_MINIMAL
    # The check reads the whole file once more before the first row, with memory flat, so the
    # stream applies it as training does: otherwise one stray `"` would merge the rows after it
    # into one text without any error, as wrong a prediction as a wrong training example.
    if delimiter == "\t" and _quotes_swallow_lines(path, encoding, len(header), size):
        logger.info(
            "%s: read with quoting off: double quotes in its texts are characters, not field "
            "quotes (as in GLUE's TSV files).",
            path,
        )
        quoting = csv.QUOTE_NONE
    chunks = _delimited_chunks(path, encoding, delimiter, quoting, header, chunk_size)
    return Table(path, header, None, chunks)


def _delimited_chunks(
    path: Path, encoding: str, delimiter: str, quoting: int, header: list[str], chunk_size: int
) -> Iterator[Rows]:
    size = path.stat().st_size
    with _open_decoded(path, encoding) as handle:
        records = _records(path, handle, delimiter, quoting)
        number = 0
        while True:
            # The limit is raised only while csv reads, not while the caller holds a chunk.
            with _field_limit(size):
                if number == 0:
                    next(records)  # the header
                chunk = []
                for values in islice(records, chunk_size):
                    number += 1
                    if len(values) > len(header):
                        raise InputError(
                            f"{path} data row {number} has {len(values)} fields but the header "
                            f"has {len(header)}; quote fields that contain {delimiter!r}."
                        )
                    chunk.append(dict(zip(header, values)))
            if not chunk:
                return
            yield chunk


def _quotes_swallow_lines(path: Path, encoding: str, width: int, size: int) -> bool:
    """Whether quoting misreads the file, as a stray `"` does in GLUE's TSV files.

    With quoting off, such a file has every line a row of `width` fields; with quoting on, a field
    that opens with `"` runs on to the next `"`, taking delimiters (and lines) with it, so rows come
    out short or merged. A spreadsheet export's quoted line breaks and tabs leave short lines with
    quoting off, so it keeps its quoting.
    """
    lines = 0
    lines_of_width = True

    def counted(handle: TextIO) -> Iterator[str]:
        nonlocal lines, lines_of_width
        for line in handle:
            if line.strip():
                lines += 1
                lines_of_width = lines_of_width and len(line.split("\t")) == width
            yield line

    records = 0
    records_of_width = True
    with _open_decoded(path, encoding) as handle, _field_limit(size):
        for values in _records(path, counted(handle), "\t", csv.QUOTE_MINIMAL):
            records += 1
            records_of_width = records_of_width and len(values) == width
    if records == lines and records_of_width:
        return False
    return lines_of_width


def _jsonl_records(path: Path, handle: TextIO) -> Iterator[Row]:
    """Each non-blank line as a row; a plain JSON string is a row of one `PLAIN_TEXT_COLUMN`."""
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{path} line {number} is not valid JSON: {error.msg}.") from error
        if isinstance(record, str):
            record = {PLAIN_TEXT_COLUMN: record}
        if not isinstance(record, dict):
            raise InputError(
                f"{path} line {number} must be a JSON object with named fields (or a JSON "
                f"string, read as column {PLAIN_TEXT_COLUMN!r})."
            )
        yield record


def _jsonl_table(path: Path, encoding: str, chunk_size: int) -> Table:
    with _open_decoded(path, encoding) as handle:
        first = next(_jsonl_records(path, handle), None)
    if first is None:
        raise InputError(f"File {path} is empty.")

    def chunks() -> Iterator[Rows]:
        with _open_decoded(path, encoding) as handle:
            records = _jsonl_records(path, handle)
            while chunk := list(islice(records, chunk_size)):
                yield chunk

    # Columns from the first record: the others are known only once the file is read through.
    return Table(path, list(first), None, chunks())


def _parquet_table(path: Path, chunk_size: int) -> Table:
    try:
        import pyarrow.parquet as parquet
    except ImportError as error:
        raise InputError(
            f"Reading {path} needs pyarrow: pip install 'kerasbert[stream]' (or pyarrow)."
        ) from error

    def open_file() -> Any:
        try:
            return parquet.ParquetFile(path)
        except Exception as error:  # pyarrow raises several unrelated types for a bad file
            raise InputError(f"{path} is not a readable Parquet file ({error}).") from error

    file = open_file()
    try:
        columns = [str(name) for name in file.schema_arrow.names]
        row_count = file.metadata.num_rows
    finally:
        file.close()
    duplicated = sorted(name for name, count in Counter(columns).items() if count > 1)
    if duplicated:
        raise InputError(f"{path} has duplicate column name(s) {duplicated}; make them unique.")

    def chunks() -> Iterator[Rows]:
        file = open_file()
        try:
            for batch in file.iter_batches(batch_size=chunk_size):
                yield batch.to_pylist()
        finally:
            file.close()

    return Table(path, columns, row_count, chunks())
