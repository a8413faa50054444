"""Batch prediction that streams: rows are read, classified and written a chunk at a time.

`predict_stream(classifier, input, output)` reads `.csv`, `.tsv`, `.jsonl`, `.txt` or `.parquet`
(through `kerasbert.inference.textfiles`, by the reader and column rule training uses, so every
encoding that trains predicts) and writes `.csv`, `.jsonl` or `.parquet`, holding one chunk of rows
at a time, so memory stays flat however large the file is. Output rows keep the input's order and
its id column (`id_column`, or the first of `textfiles.ID_COLUMN_NAMES` present). The output is
written to a hidden file beside it and moved into place when complete, so a failed run leaves no
half-written predictions.

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
from pathlib import Path
from typing import Any

from kerasbert.common.errors import InputError
from kerasbert.inference.textfiles import (
    INPUT_SUFFIXES,
    TEXT,
    InputColumns,
    check_suffix,
    input_table,
)

logger = logging.getLogger(__name__)

# Rows per chunk: enough texts for the predictor to sort into well-filled length groups, few
# enough that a chunk of long texts and its token ids stay in tens of megabytes.
DEFAULT_CHUNK_SIZE = 2048
OUTPUT_SUFFIXES = (".csv", ".jsonl", ".parquet")


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
    `label_separator`, default `|`, and one `probability_<label>` column per label). A classifier
    with a `min_confidence` adds `abstained` (true where the label is left empty: null in JSONL
    and Parquet, an empty cell in CSV).
    """
    source, target = Path(input_path), Path(output_path)
    check_suffix(source, INPUT_SUFFIXES, "Input")
    check_suffix(target, OUTPUT_SUFFIXES, "Output")
    if not isinstance(chunk_size, int) or chunk_size <= 0:
        raise InputError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    if not source.is_file():
        raise FileNotFoundError(f"Input file {source} does not exist.")
    if text_pair_column is not None and not classifier.pair:
        raise InputError(
            "This model classifies single texts; --text-pair-column is for models trained on "
            "text pairs. Drop it."
        )
    table = input_table(source, chunk_size)
    fields = InputColumns(
        source, table.columns, classifier.pair, text_column, text_pair_column, id_column
    )
    multi_label = classifier.multi_label
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    count = 0
    bar = _progress_bar(table.row_count, enabled=progress)
    try:
        separator = classifier.label_separator
        with _open_sink(partial, target.suffix.lower(), separator) as sink:
            for rows in table.chunks:
                inputs, shown = fields.select(rows, count + 1)
                scores = classifier.classify(inputs)
                shown.update(_answer_columns(classifier.labels, scores, multi_label))
                if getattr(classifier, "min_confidence", None) is not None:
                    shown["abstained"] = [label is None for label in scores.labels]
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
