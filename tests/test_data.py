"""Tests for `kerasbert.data`: built-in corpus, file formats, columns, duplicates and splits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import tiny_texts, write_csv

from kerasbert.data import load_splits
from kerasbert.errors import InputError
from kerasbert.readers import read_bbc, read_labelled_file, read_source


def test_bbc_news_is_the_real_corpus() -> None:
    texts, labels = read_bbc()
    assert len(texts) == 2225
    assert sorted(set(labels)) == ["business", "entertainment", "politics", "sport", "tech"]
    assert "sports" not in labels
    assert texts[0].startswith("Ad sales boost Time Warner profit")
    assert len(texts) - len(set(texts)) == 98


def test_bbc_headlines_are_first_lines() -> None:
    texts, _ = read_bbc(headlines=True)
    assert texts[0] == "Ad sales boost Time Warner profit"
    assert all("\n" not in text for text in texts)


def test_bbc_paragraphs_script_writes_a_file_the_loader_reads(tmp_path) -> None:
    output = tmp_path / "paragraphs.csv"
    script = Path(__file__).resolve().parent.parent / "scripts" / "bbc_paragraphs.py"
    subprocess.run([sys.executable, str(script), str(output)], check=True, capture_output=True)
    texts, labels = read_labelled_file(output)
    articles, _ = read_bbc()
    assert len(texts) == sum(
        1 for article in articles for line in article.split("\n") if line.strip()
    )
    assert texts[0] == "Ad sales boost Time Warner profit"
    assert texts[1].startswith("Quarterly profits at US media giant TimeWarner jumped 76%")
    assert sorted(set(labels)) == ["business", "entertainment", "politics", "sport", "tech"]


def test_split_is_stratified_deduplicated_and_seeded() -> None:
    splits = load_splits("bbc-news", seed=42)
    sizes = {name: len(getattr(splits, name)) for name in ("train", "validation", "test")}
    assert sum(sizes.values()) == 2225 - 98
    assert splits.duplicates_dropped == 98
    assert sizes["test"] == pytest.approx(0.2 * 2127, abs=2)
    sets = [set(getattr(splits, name).texts) for name in ("train", "validation", "test")]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    test_share = splits.test.class_counts()["sport"] / len(splits.test)
    train_share = splits.train.class_counts()["sport"] / len(splits.train)
    assert test_share == pytest.approx(train_share, abs=0.01)
    again = load_splits("bbc-news", seed=42)
    assert again.test.texts == splits.test.texts


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_file_formats_with_custom_columns(tmp_path, suffix: str) -> None:
    rows = tiny_texts(5)
    frame = pd.DataFrame(rows, columns=["body", "topic"])
    path = tmp_path / f"data{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path)
    texts, labels = read_labelled_file(path, "body", "topic")
    assert texts == [text for text, _ in rows] and labels == [label for _, label in rows]


def test_columns_are_auto_detected(tmp_path) -> None:
    path = write_csv(tmp_path / "d.csv", tiny_texts(2), columns=("Sentence", "category"))
    texts, labels = read_labelled_file(path)
    assert len(texts) == 6 and set(labels) == {"business", "sport", "tech"}


def test_folder_per_class(tmp_path) -> None:
    for label in ("neg", "pos"):
        (tmp_path / label).mkdir()
        for index in range(3):
            (tmp_path / label / f"{index}.txt").write_text(f"{label} text {index}")
    texts, labels = read_source(str(tmp_path))
    assert labels == ["neg"] * 3 + ["pos"] * 3 and texts[3] == "pos text 0"


def test_integer_labels_sort_numerically(tmp_path) -> None:
    rows = [(f"text number {i}", str(i % 11)) for i in range(110)]
    splits = load_splits(str(write_csv(tmp_path / "d.csv", rows)), seed=0)
    assert splits.labels == [str(i) for i in range(11)]


def test_spreadsheet_csv_bom_crlf_semicolons_embedded_newlines(tmp_path) -> None:
    path = tmp_path / "excel.csv"
    content = 'text;label\r\n"first line\r\nsecond; line";a\r\nplain;b\r\n'
    path.write_bytes(b"\xef\xbb\xbf" + content.encode("utf-8"))
    texts, labels = read_labelled_file(path)
    assert texts == ["first line\nsecond; line", "plain"] and labels == ["a", "b"]


def test_utf16_and_latin1(tmp_path) -> None:
    utf16 = tmp_path / "u16.csv"
    utf16.write_bytes("text,label\ncafé,a\n".encode("utf-16"))
    assert read_labelled_file(utf16)[0] == ["café"]
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text,label\n£5 café,a\n".encode("cp1252"))
    assert read_labelled_file(latin)[0] == ["£5 café"]


def test_explicit_test_file_drops_training_overlap(tmp_path) -> None:
    rows = tiny_texts(20, seed=1)
    train = write_csv(tmp_path / "train.csv", rows)
    test = write_csv(tmp_path / "test.csv", rows[:5] + tiny_texts(3, seed=2))
    splits = load_splits(str(train), test_data=str(test))
    assert splits.overlap_dropped["test"] == 5
    assert not set(splits.test.texts) & set(splits.train.texts)


def test_max_samples_subsample_stratified() -> None:
    splits = load_splits("bbc-headlines", max_train_samples=100, max_eval_samples=50)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (100, 50, 50)
    assert len(splits.train.class_counts()) == 5


@pytest.mark.parametrize(
    ("content", "arguments", "message"),
    [
        ("", {}, "is empty"),
        ("text,label\n", {}, "header but no data rows"),
        (
            "body,y\nhello,a\n",
            {},
            r"Could not find a text column .* Columns found: \['body', 'y'\]",
        ),
        ("text,review,label\nx,y,a\n", {}, "several possible text columns"),
        ("text,label\nhello,a\n", {"text_column": "body"}, "no column 'body'"),
        ("text,label\nhello,a\n,b\n  ,a\n", {}, r"empty text .*\(data rows 2, 3\)"),
        ("text,label\nhello,\n", {}, r"empty label .*\(data rows 1\)"),
        ("text,label\nx,1\ny,pos\n", {}, "mixes numeric labels"),
        ("text,text\nx,a\n", {}, "duplicate column"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, content: str, arguments: dict, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_labelled_file(path, **arguments)


def test_non_string_text_in_jsonl(tmp_path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(row) for row in [{"text": "ok", "label": "a"}, {"text": 42, "label": "b"}]
        )
    )
    with pytest.raises(InputError, match=r"non-text text .*\(data rows 2\)"):
        read_labelled_file(path)


def test_missing_file_and_unknown_extension(tmp_path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_source(str(tmp_path / "nope.csv"))
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(InputError, match="unknown extension '.xlsx'"):
        read_source(str(tmp_path / "data.xlsx"))


def test_one_class_small_class_and_unseen_labels(tmp_path) -> None:
    one = write_csv(tmp_path / "one.csv", [(f"text {i}", "a") for i in range(10)])
    with pytest.raises(InputError, match="only one class"):
        load_splits(str(one))
    small = write_csv(tmp_path / "small.csv", [(f"t {i}", "a") for i in range(20)] + [("u", "b")])
    with pytest.raises(InputError, match=r"\{'b': 1\} have too few examples"):
        load_splits(str(small))
    train = write_csv(tmp_path / "train.csv", tiny_texts(10))
    test = write_csv(tmp_path / "test.csv", [("the market", "business"), ("new thing", "other")])
    with pytest.raises(InputError, match=r"label\(s\) \['other'\] that the training data never"):
        load_splits(str(train), test_data=str(test))
