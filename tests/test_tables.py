"""Tests for `kerasbert.common.tables`: one encoding rule, and the same rows whole or streamed."""

from __future__ import annotations

import codecs
import csv
import io
import logging
import random
import tracemalloc
from pathlib import Path

import pytest

from kerasbert.common import tables
from kerasbert.common.errors import InputError
from kerasbert.common.tables import decode_text, open_table, open_text, read_table

# Accents, the euro sign, typographic quotes and dashes: all in Windows-1252, all outside ASCII.
TEXT = "Café crème — “€5”, naïve déjà vu\r\nsecond line\rthird"
DECODED = TEXT.replace("\r\n", "\n").replace("\r", "\n")
ENCODED = {
    "utf-8": TEXT.encode("utf-8"),
    "utf-8 with BOM": TEXT.encode("utf-8-sig"),
    "utf-16 with BOM": TEXT.encode("utf-16"),
    "utf-16-le without BOM": TEXT.encode("utf-16-le"),
    "utf-16-be without BOM": TEXT.encode("utf-16-be"),
    "windows-1252": TEXT.encode("cp1252"),
}


@pytest.mark.parametrize("name", list(ENCODED))
def test_every_encoding_decodes_to_the_same_text_whole_or_from_a_file(
    name: str, tmp_path: Path
) -> None:
    raw = ENCODED[name]
    assert decode_text(raw, "memory") == DECODED
    path = tmp_path / "text.txt"
    path.write_bytes(raw)
    with open_text(path) as handle:
        assert handle.read() == DECODED


def test_windows_1252_is_one_warning_naming_the_file_and_the_first_byte(caplog) -> None:
    raw = TEXT.encode("cp1252")
    with caplog.at_level(logging.WARNING, logger="kerasbert.common.tables"):
        decode_text(raw, "notes.csv")
    first = next(index for index, byte in enumerate(raw) if byte >= 0x80)
    assert [record.getMessage() for record in caplog.records] == [
        f"notes.csv is not valid UTF-8 (byte {first}); read it as Windows-1252."
    ]


def test_utf8_is_checked_over_the_whole_file_a_block_at_a_time(
    tmp_path: Path, monkeypatch, caplog
) -> None:
    """A character cut by a block boundary is still UTF-8; a bad byte after the first block is
    found, at its offset in the file, not in its block."""
    monkeypatch.setattr(tables, "_BLOCK_BYTES", 16)
    path = tmp_path / "text.txt"
    for start in range(40):
        text = "x" * start + "€ and é" + "y" * 50
        path.write_bytes(text.encode("utf-8"))
        with open_text(path) as handle:
            assert handle.read() == text
    raw = ("z" * 100 + "€").encode("utf-8")
    raw += "déjà".encode("cp1252") + b" " * 30
    path.write_bytes(raw)
    with caplog.at_level(logging.WARNING, logger="kerasbert.common.tables"):
        with open_text(path) as handle:
            assert handle.read() == "z" * 100 + "â‚¬" + "déjà" + " " * 30
    assert f"(byte {len(('z' * 100 + '€').encode()) + 1})" in caplog.text


def test_bytes_that_are_not_text_are_refused(tmp_path: Path, monkeypatch) -> None:
    workbook = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" * 8
    with pytest.raises(InputError, match=r"book.csv is not a text file .*Save it as CSV"):
        decode_text(workbook, "book.csv")
    monkeypatch.setattr(tables, "_BLOCK_BYTES", 16)
    path = tmp_path / "late.csv"
    path.write_bytes(b"text,label\n" + b"a" * 40 + b"\x00,b\n")
    with pytest.raises(InputError, match=r"late.csv is not a text file .*at byte 51"):
        open_table(path)
    path.write_bytes("text\n".encode("utf-16-le") + b"\x00\xd8")  # a lone surrogate
    with pytest.raises(InputError, match=r"not a text file .*at byte 10"):
        open_text(path)


def _rows(count: int, seed: int = 0) -> list[dict[str, str]]:
    """Texts with the characters that break naive CSV readers: quotes, both delimiters, line
    breaks, accents, the euro sign."""
    rng = random.Random(seed)
    words = ["prices", "rose", "café", "€5", '"quoted"', "a, b", "x;y", "naïve", "line\nbreak"]
    return [
        {
            "id": str(index),
            "text": " ".join(rng.choice(words) for _ in range(rng.randint(1, 12))),
            "label": rng.choice(["business", "sport", "tech"]),
        }
        for index in range(count)
    ]


def _write(path: Path, rows: list[dict[str, str]], encoding: str, delimiter: str = ",") -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(rows[0]), delimiter=delimiter, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "cp1252", "utf-8-sig"])
def test_streamed_chunks_are_the_whole_file_rows(encoding: str, tmp_path: Path) -> None:
    rows = _rows(3000)
    path = _write(tmp_path / "data.csv", rows, encoding)
    whole, columns = read_table(path)
    assert columns == ["id", "text", "label"]
    assert whole == rows
    table = open_table(path, chunk_size=128)
    chunks = list(table.chunks)
    assert [len(chunk) for chunk in chunks] == [128] * 23 + [56]
    assert [row for chunk in chunks for row in chunk] == rows


def test_streaming_a_large_file_keeps_memory_flat(tmp_path: Path) -> None:
    rows = _rows(100_000, seed=1)
    path = _write(tmp_path / "large.csv", rows, "utf-16")
    size = path.stat().st_size
    assert size > 10_000_000
    streamed = 0
    tracemalloc.start()
    try:
        for chunk in open_table(path, chunk_size=500).chunks:
            assert chunk == rows[streamed : streamed + len(chunk)]
            streamed += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert streamed == len(rows)
    # The whole file decoded is about `size` bytes of str; the stream holds a block and a chunk.
    assert peak < size / 4, (peak, size)


def test_a_header_of_one_column_is_split_on_the_delimiter_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(codecs.BOM_UTF8 + b'text;label\r\n"one; two";a\r\nthree;b\r\n')
    table = open_table(path)
    assert table.columns == ["text", "label"]
    assert list(table.chunks) == [[{"text": "one; two", "label": "a"}, {"text": "three", "label": "b"}]]  # fmt: skip
    path.write_text("text, text ,label\nx,y,z\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"duplicate column name\(s\) \['text'\]"):
        open_table(path)
    path.write_text("text,label\nshares rose, then fell,business\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"data row 1 has 3 fields but the header has 2"):
        list(open_table(path).chunks)


def test_glue_tsv_quoting_is_detected_for_the_stream_too(tmp_path: Path) -> None:
    lines = ["index\tsentence\tlabel"] + [
        f"{index}\t{'He said ' + chr(34) + 'hi' if index % 3 == 0 else 'plain text'}\t{index % 2}"
        for index in range(50)
    ]
    path = tmp_path / "dev.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = [dict(zip(["index", "sentence", "label"], line.split("\t"))) for line in lines[1:]]
    assert [row for chunk in open_table(path, chunk_size=7).chunks for row in chunk] == expected
    assert read_table(path)[0] == expected


def test_the_csv_field_limit_is_raised_only_while_a_chunk_is_read(tmp_path: Path) -> None:
    long_text = "word " * 40_000  # 200 KB: over csv's default limit of 128 KiB
    rows = [{"text": long_text, "label": "a"}] * 3
    path = _write(tmp_path / "long.csv", rows, "utf-8")
    limit = csv.field_size_limit()
    chunks = open_table(path, chunk_size=1).chunks
    assert next(chunks) == rows[:1]
    assert csv.field_size_limit() == limit
    assert list(chunks) == [rows[:1], rows[:1]]
    assert csv.field_size_limit() == limit


def test_jsonl_streams_its_first_records_keys_and_reads_all_keys_whole(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    content = '{"text": "café", "label": "a"}\n\n"plain €"\n{"text": "b", "extra": 1}\n'
    path.write_bytes(content.encode("utf-16"))
    rows = [{"text": "café", "label": "a"}, {"text": "plain €"}, {"text": "b", "extra": 1}]
    assert read_table(path) == (rows, ["text", "label", "extra"])
    table = open_table(path, chunk_size=2)
    assert table.columns == ["text", "label"]
    assert list(table.chunks) == [rows[:2], rows[2:]]
    path.write_text('{"text": "a"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"data.jsonl line 2 must be a JSON object"):
        read_table(path)


def test_parquet_streams_in_batches(tmp_path: Path) -> None:
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as parquet

    rows = _rows(100)
    path = tmp_path / "data.parquet"
    parquet.write_table(pyarrow.Table.from_pylist(rows), path, row_group_size=30)
    table = open_table(path, chunk_size=40)
    assert (table.columns, table.row_count) == (["id", "text", "label"], 100)
    assert [row for chunk in table.chunks for row in chunk] == rows == read_table(path)[0]
