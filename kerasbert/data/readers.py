"""Read labelled text: the built-in BBC sets, CSV / TSV / JSONL / Parquet files and folders.

Sources: the built-in sets (`kerasbert.data.builtin`), user files and folders with one sub-folder of
`.txt` files per class, locally or at a gs:// URL. A file holds one text or a pair of texts per row
(`ColumnSpec.text_pair`, or detected from common column-name pairs), and one label or several:
separated in one cell (`sport|tech`), a JSON list, or 0/1 columns (`ColumnSpec.label_columns`).
Every problem in the input is an `InputError` naming the file, column or rows and the fix; nothing
is dropped silently.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.common.columns import find_pair_columns, find_text_column, listed_pairs, pick_column
from kerasbert.common.errors import InputError
from kerasbert.common.names import LABEL_COLUMN_NAMES
from kerasbert.common.tables import TABLE_SUFFIXES, decode_text, read_table
from kerasbert.data.builtin import (
    BBC_FOLDER_TO_LABEL,
    BUILTIN_DATASETS,
    bbc_multilabel,
    bbc_pairs,
    read_bbc,
)
from kerasbert.data.labels import (
    MAX_ROWS_LISTED,
    binary_labels,
    is_integer,
    label_sort_key,
    listed_rows,
    parse_labels,
)
from kerasbert.data.remote import fetch_remote, is_remote

# The reading API. The BBC corpus, label parsing and file decoding moved to `builtin`, `labels` and
# `tables`; their names that callers import from here stay importable from here.
__all__ = [
    "BBC_FOLDER_TO_LABEL",
    "BUILTIN_DATASETS",
    "TABLE_SUFFIXES",
    "ColumnSpec",
    "LabelledData",
    "decode_text",
    "is_integer",
    "label_sort_key",
    "read_bbc",
    "read_folder",
    "read_labelled",
    "read_labelled_file",
    "read_source",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ColumnSpec:
    """Where a table's texts and labels are; every field left None is detected.

    Args:
        text: the text column.
        text_pair: the second-text column of sentence-pair data.
        label: the label column (one label, or several split by `label_separator`, or a list).
        label_columns: 0/1 columns, one per label (multi-label); a tuple or "a,b,c".
        multi_label: True: several labels per text; False: exactly one; None: detect.
        label_separator: what separates several labels in one cell; None: detect among , ; |.
        strict: refuse a `label_separator` that splits no cell and warn when `multi_label` finds
            one label per row; off for validation and test files, read with the training data's
            settings, which may well hold single labels only.
    """

    text: str | None = None
    text_pair: str | None = None
    label: str | None = None
    label_columns: tuple[str, ...] | str | None = None
    multi_label: bool | None = None
    label_separator: str | None = None
    strict: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.label_columns, str):
            names = tuple(name.strip() for name in self.label_columns.split(","))
            object.__setattr__(self, "label_columns", names)


@dataclass(frozen=True)
class LabelledData:
    """What one source holds: texts (and second texts), labels, and how they were read.

    `labels` holds a label name per text, or for multi-label data a sorted tuple of label names
    (empty: none of the labels). `columns` says which columns and label format were used (for the
    data summary). `groups` (built-in sets only) marks examples that share an article: a split
    must keep each group on one side.
    """

    texts: list[str]
    labels: list[str] | list[tuple[str, ...]]
    text_pairs: list[str] | None = None
    multi_label: bool = False
    columns: dict[str, Any] = field(default_factory=dict)
    groups: list[int] | None = None


def read_labelled(source: str, columns: ColumnSpec | None = None) -> LabelledData:
    """Read a built-in data set name, a labelled file or a class-per-folder directory."""
    columns = columns or ColumnSpec()
    if source in BUILTIN_DATASETS:
        return _read_builtin(source, columns)
    if is_remote(source):
        # gs:// (Colab TPU, Cloud Storage): copy to a scratch directory, read it like a local file
        # (everything is in memory afterwards), then delete the copy. Errors name the remote URL.
        import tempfile

        with tempfile.TemporaryDirectory(prefix="kerasbert-data-") as scratch:
            local = str(fetch_remote(source, Path(scratch) / source.rstrip("/").rsplit("/", 1)[-1]))
            try:
                return read_labelled(local, columns)
            except InputError as error:
                raise InputError(str(error).replace(local, source)) from error
    path = Path(source)
    if not path.exists():
        hint = f" Built-in data sets: {', '.join(BUILTIN_DATASETS)}." if "/" not in source else ""
        raise InputError(f"Data {source!r} not found: no such file or directory.{hint}")
    return _read_path(path, columns)


def read_source(
    source: str, text_column: str | None = None, label_column: str | None = None
) -> tuple[list[str], list[str]]:
    """Single texts with one label each from any source (`read_labelled` reads every layout)."""
    columns = ColumnSpec(text_column, label=label_column, multi_label=False)
    return _single(read_labelled(source, columns), source)


def read_labelled_file(
    path: str | Path, text_column: str | None = None, label_column: str | None = None
) -> tuple[list[str], list[str]]:
    """Read single texts and their one label each from a CSV, TSV, JSONL or Parquet file.

    Columns are taken from the arguments, else detected from common names. Rows with missing or
    empty text or label are refused with their row numbers (1-based data rows), never dropped
    silently.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"Data file {path} does not exist.")
    columns = ColumnSpec(text_column, label=label_column, multi_label=False)
    return _single(_read_path(path, columns), path)


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
            f"{len(empty)} empty text file(s) under {path}: {', '.join(empty[:MAX_ROWS_LISTED])}. "
            "Delete them or add their text."
        )
    return texts, labels


def _single(data: LabelledData, source: str | Path) -> tuple[list[str], list[str]]:
    if data.text_pairs is not None:
        columns = [data.columns.get(key) for key in ("text", "text_pair")]
        named = f" (columns {columns[0]!r} and {columns[1]!r})" if all(columns) else ""
        raise InputError(
            f"{source} holds text pairs{named}; this command reads single texts. Name one column "
            "with --text-column."
        )
    if data.multi_label:
        raise InputError(f"{source} holds several labels per text; this command reads one each.")
    return data.texts, data.labels


def _read_builtin(name: str, columns: ColumnSpec) -> LabelledData:
    """A built-in set; column settings do not apply to it, except --[no-]multi-label."""
    if name in ("bbc-news", "bbc-headlines"):
        texts, labels = read_bbc(headlines=name == "bbc-headlines")
        data = LabelledData(texts, labels)
    elif name == "bbc-pairs":
        built = bbc_pairs()
        data = LabelledData(built.texts, built.labels, built.text_pairs, groups=built.groups)
    else:
        if columns.multi_label is False:
            raise InputError(
                "bbc-multilabel has one or two labels per text; drop --no-multi-label."
            )
        built = bbc_multilabel()
        return LabelledData(built.texts, built.labels, multi_label=True, groups=built.groups)
    return _as_multi_label(data, name, columns) if columns.multi_label else data


def _as_multi_label(data: LabelledData, source: str | Path, columns: ColumnSpec) -> LabelledData:
    """Single-label data read as multi-label: each text with a tuple of its one label."""
    if columns.strict:
        logger.warning(
            "%s has one label per text; read as multi-label (--multi-label): each text has its "
            "one label, and the model will score every label independently.",
            source,
        )
    return LabelledData(
        data.texts,
        [(label,) for label in data.labels],
        data.text_pairs,
        multi_label=True,
        columns=data.columns,
        groups=data.groups,
    )


def _read_path(path: Path, columns: ColumnSpec) -> LabelledData:
    if path.is_dir():
        if columns.text_pair or columns.label_columns or columns.label_separator:
            raise InputError(
                f"{path} is a folder of class sub-folders: one text and one label per file. "
                "Text pairs and multi-label data need a CSV, TSV, JSONL or Parquet file."
            )
        texts, labels = read_folder(path)
        data = LabelledData(texts, labels, columns={"label_format": "class folders"})
        return _as_multi_label(data, path, columns) if columns.multi_label else data
    rows, names = read_table(path)
    if not rows:
        raise InputError(f"Data file {path} has a header but no data rows.")
    text_key, pair_key = _pick_text_columns(names, columns, path)
    label_key = None
    if columns.label_columns:
        missing = [name for name in columns.label_columns if name not in names]
        if missing:
            raise InputError(
                f"{path} has no column(s) {missing} (from --label-columns). Columns found: {names}."
            )
        used = {text_key, pair_key} & set(columns.label_columns)
        if used:
            raise InputError(f"{path}: column(s) {sorted(used)} are both text and label columns.")
    else:
        label_key = pick_column(path, names, columns.label, LABEL_COLUMN_NAMES, "label")
        if label_key in (text_key, pair_key):
            raise InputError(f"{path}: the text and label columns are both {label_key!r}.")
    texts = _clean_column(rows, text_key, "text", path)
    pairs = _clean_column(rows, pair_key, "second text", path) if pair_key else None
    described = {"text": text_key, "text_pair": pair_key, "label": label_key}
    if columns.label_columns:
        labels = binary_labels(rows, columns.label_columns, path)
        described.update(label_columns=list(columns.label_columns), label_format="0/1 columns")
        return LabelledData(texts, labels, pairs, True, described)
    values = _clean_column(rows, label_key, "label", path, allow_numbers=True, allow_lists=True)
    labels, label_format, separator = parse_labels(
        values, path, label_key, columns.multi_label, columns.label_separator, columns.strict
    )
    multi_label = isinstance(labels[0], tuple)
    if multi_label and columns.multi_label is False:
        raise InputError(
            f"{path}: column {label_key!r} holds lists of labels (multi-label), but one label "
            "per text is expected here (--no-multi-label, or a single-label run)."
        )
    described.update(label_format=label_format, label_separator=separator)
    return LabelledData(texts, labels, pairs, multi_label, described)


def _pick_text_columns(names: list[str], columns: ColumnSpec, path: Path) -> tuple[str, str | None]:
    """The text column and the second-text column (None for single texts).

    A named text column alone means single texts; otherwise the data are pairs when a second
    column is named or exactly one common pair of column names is present.
    """
    if columns.text_pair is None and (columns.text is not None or not listed_pairs(names)):
        return find_text_column(path, names, columns.text), None
    text_key, pair_key = find_pair_columns(path, names, columns.text, columns.text_pair)
    if columns.text is None and columns.text_pair is None:
        logger.info("%s: text pairs from columns %r and %r (detected).", path, text_key, pair_key)
    return text_key, pair_key


def _clean_column(
    rows: list[dict[str, Any]],
    key: str,
    kind: str,
    path: Path,
    allow_numbers: bool = False,
    allow_lists: bool = False,
) -> list[Any]:
    values, missing, wrong_type = [], [], []
    for number, row in enumerate(rows, start=1):
        value = row.get(key)
        if isinstance(value, float) and math.isnan(value):
            value = None
        if isinstance(value, str):
            value = value.strip()
        elif allow_numbers and _is_int(value):
            value = int(value)
        elif allow_lists and isinstance(value, (list, tuple, np.ndarray)):
            items = [item.strip() if isinstance(item, str) else item for item in value]
            if all((isinstance(item, str) and item) or _is_int(item) for item in items):
                value = [str(int(item)) if _is_int(item) else item for item in items]
            else:
                wrong_type.append(number)
        elif value is not None:
            wrong_type.append(number)
        if value is None or value == "":
            missing.append(number)
        values.append(value)
    if missing:
        raise InputError(
            f"{path}: {len(missing)} row(s) have an empty {kind} in column {key!r} "
            f"(data rows {listed_rows(missing)}). Fill them in or remove those rows."
        )
    if wrong_type:
        expected = "a string or a list of strings" if allow_lists else "a string"
        raise InputError(
            f"{path}: {len(wrong_type)} row(s) have a non-text {kind} in column {key!r} "
            f"(data rows {listed_rows(wrong_type)}). Every {kind} must be {expected}."
        )
    return values


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
