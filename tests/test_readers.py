"""Tests for `kerasbert.data.readers` (with `builtin`, `labels` and `tables`, which it reads through):
the built-in sets, file formats, encodings, columns, text pairs and multi-label layouts."""

from __future__ import annotations

import csv
import json
import logging
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from conftest import tiny_texts, write_csv

from kerasbert.common.errors import InputError
from kerasbert.data.readers import (
    BUILTIN_DATASETS,
    ColumnSpec,
    read_bbc,
    read_labelled,
    read_labelled_file,
    read_source,
)


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


@pytest.mark.parametrize(
    ("content", "arguments", "message"),
    [
        ("", {}, "is empty"),
        ("text,label\n", {}, "header but no data rows"),
        (
            "words,y\nhello,a\n",
            {},
            r"Could not find a text column .* Columns found: \['words', 'y'\]",
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


# Text pairs.
def _write_rows(path: Path, header: list[str], rows: list[list], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


PAIR_ROWS = [
    ["A man is playing a guitar.", "A person plays music.", "entailment"],
    ["A dog runs, fast.", "The cat sleeps.", "contradiction"],
    ["Two kids eat.", "Children have lunch.", "entailment"],
]


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_text_pairs_are_detected_from_common_column_names(tmp_path, delimiter: str) -> None:
    suffix = ".csv" if delimiter == "," else ".tsv"
    path = _write_rows(
        tmp_path / f"pairs{suffix}", ["premise", "hypothesis", "label"], PAIR_ROWS, delimiter
    )
    data = read_labelled(str(path))
    assert data.texts == [row[0] for row in PAIR_ROWS]
    assert data.text_pairs == [row[1] for row in PAIR_ROWS]
    assert data.labels == ["entailment", "contradiction", "entailment"]
    assert (data.columns["text"], data.columns["text_pair"]) == ("premise", "hypothesis")
    assert data.multi_label is False


def test_named_pair_columns_and_pair_found_from_its_second_column(tmp_path) -> None:
    rows = [[f"q{i}", f"a{i}", f"s{i}", "yes" if i % 2 else "no"] for i in range(4)]
    path = _write_rows(tmp_path / "d.csv", ["question", "answer", "sentence", "label"], rows)
    named = read_labelled(str(path), ColumnSpec(text="question", text_pair="answer"))
    assert named.text_pairs == ["a0", "a1", "a2", "a3"]
    # --text-pair-column sentence alone: its partner in the common pairs is `question`.
    partner = read_labelled(str(path), ColumnSpec(text_pair="sentence"))
    assert partner.texts == ["q0", "q1", "q2", "q3"] and partner.text_pairs[0] == "s0"
    # (question, sentence) is detected without any setting.
    assert read_labelled(str(path)).text_pairs == ["s0", "s1", "s2", "s3"]


def test_glue_tsv_with_unbalanced_quotes_loads_every_line(tmp_path) -> None:
    """GLUE's TSV files are written without quoting: a `"` is part of the text."""
    lines = [
        "index\tquestion\tsentence\tlabel",
        '0\tWhat did he say?\tHe said "hello\tentailment',
        "1\tWho won?\tThe home team won the cup.\tnot_entailment",
        '2\t"Why not?\tBecause it rained " all day.\tentailment',
        "3\tWhen?\tIn 1999.\tnot_entailment",
    ]
    path = tmp_path / "dev.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = read_labelled(str(path))
    assert data.texts == ["What did he say?", "Who won?", '"Why not?', "When?"]
    assert data.text_pairs == [
        'He said "hello',
        "The home team won the cup.",
        'Because it rained " all day.',
        "In 1999.",
    ]
    assert data.labels == ["entailment", "not_entailment", "entailment", "not_entailment"]


def test_quoted_line_breaks_in_tsv_still_use_quoting(tmp_path) -> None:
    path = _write_rows(
        tmp_path / "export.tsv",
        ["text", "label"],
        [['He said "win"\nthen left', "sport"], ["plain", "tech"]],
        delimiter="\t",
    )
    texts, labels = read_labelled_file(path)
    assert texts == ['He said "win"\nthen left', "plain"] and labels == ["sport", "tech"]


def test_a_300_kib_field_loads_and_the_csv_limit_is_restored(tmp_path) -> None:
    long_text = ("word " * 61_440).strip()  # 300 KiB
    path = _write_rows(tmp_path / "long.csv", ["text", "label"], [[long_text, "a"], ["short", "b"]])
    limit = csv.field_size_limit()
    texts, labels = read_labelled_file(path)
    assert len(texts[0]) == len(long_text) > 300 * 1024 - 8 and texts[0] == long_text
    assert labels == ["a", "b"]
    assert csv.field_size_limit() == limit


def test_pair_errors_name_the_column_and_rows(tmp_path) -> None:
    rows = [["a", "b", "x"], ["c", "  ", "y"], ["e", "", "x"]]
    path = _write_rows(tmp_path / "d.csv", ["sentence1", "sentence2", "label"], rows)
    with pytest.raises(
        InputError,
        match=r"2 row\(s\) have an empty second text in column 'sentence2' \(data rows 2, 3\)",
    ):
        read_labelled(str(path))
    with pytest.raises(InputError, match=r"no column 'hypothesis' \(from --text-pair-column\)"):
        read_labelled(str(path), ColumnSpec(text="sentence1", text_pair="hypothesis"))
    both = _write_rows(
        tmp_path / "both.csv", ["sentence1", "sentence2", "text", "text_pair", "label"], []
    )
    both.write_text(both.read_text() + "a,b,c,d,x\n")
    with pytest.raises(InputError, match="several possible pairs of text columns"):
        read_labelled(str(both))


def test_single_text_readers_refuse_pairs_and_multi_label(tmp_path) -> None:
    path = _write_rows(tmp_path / "d.csv", ["sentence1", "sentence2", "label"], PAIR_ROWS)
    with pytest.raises(InputError, match=r"holds text pairs .*'sentence1' and 'sentence2'"):
        read_labelled_file(path)
    with pytest.raises(InputError, match="holds text pairs"):
        read_source("bbc-pairs")
    with pytest.raises(InputError, match="drop --no-multi-label"):
        read_source("bbc-multilabel")


# Multi-label.
def _labelled_csv(path: Path, labels: list[str]) -> Path:
    return _write_rows(
        path, ["text", "label"], [[f"text {i}", label] for i, label in enumerate(labels)]
    )


def test_separated_labels_are_detected_and_logged(tmp_path, caplog) -> None:
    labels = ["sport", "tech", "sport|tech", "business", "tech|business|tech", "sport"] * 5
    path = _labelled_csv(tmp_path / "d.csv", labels)
    with caplog.at_level(logging.INFO, logger="kerasbert"):
        data = read_labelled(str(path))
    assert data.multi_label and data.columns["label_separator"] == "|"
    assert data.labels[:6] == [
        ("sport",), ("tech",), ("sport", "tech"), ("business",), ("business", "tech"), ("sport",),
    ]  # fmt: skip
    assert "separated by '|' (10 of 30 rows); read as multi-label" in caplog.text


def test_labels_that_contain_a_comma_stay_single_labels(tmp_path) -> None:
    labels = ["Arts, Culture", "Science", "Politics"] * 10
    data = read_labelled(str(_labelled_csv(tmp_path / "d.csv", labels)))
    assert not data.multi_label and data.labels[0] == "Arts, Culture"
    few = ["a,b"] + ["a", "b"] * 20  # 1 of 41 rows (< 5%): not taken as a separator
    assert read_labelled(str(_labelled_csv(tmp_path / "few.csv", few))).labels[0] == "a,b"
    multi = read_labelled(
        str(_labelled_csv(tmp_path / "few.csv", few)), ColumnSpec(multi_label=True)
    )
    assert multi.labels[:3] == [("a", "b"), ("a",), ("b",)]


def test_given_separator_splits_and_integer_labels_sort_numerically(tmp_path) -> None:
    path = _labelled_csv(tmp_path / "d.csv", ["10; 2", "2", "1;10;1"])
    data = read_labelled(str(path), ColumnSpec(label_separator=";"))
    assert data.labels == [("2", "10"), ("2",), ("1", "10")]


def test_jsonl_label_lists(tmp_path) -> None:
    rows = [
        {"text": "a", "labels": ["tech", "sport"]},
        {"text": "b", "labels": ["sport", "sport"]},
        {"text": "c", "labels": []},
        {"text": "d", "labels": "business"},
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    data = read_labelled(str(path))
    assert data.multi_label and data.columns["label_format"] == "JSON lists"
    assert data.labels == [("sport", "tech"), ("sport",), (), ("business",)]
    with pytest.raises(InputError, match="holds lists of labels"):
        read_labelled(str(path), ColumnSpec(multi_label=False))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_label_columns_of_zeros_and_ones(tmp_path, suffix: str) -> None:
    frame = pd.DataFrame(
        {
            "comment_text": ["you fool", "nice day", "awful idiot", "hello"],
            "toxic": [1, 0, 1, 0],
            "insult": [1, 0, 1, 0],
            "obscene": [0, 0, 1, 0],
        }
    )
    path = tmp_path / f"d{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    data = read_labelled(
        str(path), ColumnSpec(text="comment_text", label_columns="toxic,obscene,insult")
    )
    assert data.multi_label and data.columns["label_columns"] == ["toxic", "obscene", "insult"]
    assert data.labels == [("insult", "toxic"), (), ("insult", "obscene", "toxic"), ()]


def test_label_columns_accept_true_false_and_refuse_other_values(tmp_path) -> None:
    path = _write_rows(
        tmp_path / "d.csv", ["text", "a", "b"], [["x", "TRUE", "false"], ["y", "0", "1.0"]]
    )
    assert read_labelled(str(path), ColumnSpec(label_columns="a,b")).labels == [("a",), ("b",)]
    bad = _write_rows(
        tmp_path / "bad.csv", ["text", "a", "b"], [["x", "1", "0"], ["y", "yes", "0"]]
    )
    with pytest.raises(
        InputError, match=r"column 'a' \(from --label-columns\) has 'yes' in data row 2"
    ):
        read_labelled(str(bad), ColumnSpec(label_columns="a,b"))
    with pytest.raises(InputError, match=r"no column\(s\) \['c'\] \(from --label-columns\)"):
        read_labelled(str(bad), ColumnSpec(label_columns="a,c"))


def test_label_errors_name_the_problem(tmp_path, caplog) -> None:
    path = _labelled_csv(tmp_path / "d.csv", ["sport", "tech", "sport"])
    with pytest.raises(
        InputError, match=r"--label-separator ';' splits no label in column 'label'"
    ):
        read_labelled(str(path), ColumnSpec(label_separator=";"))
    with caplog.at_level(logging.WARNING, logger="kerasbert"):
        data = read_labelled(str(path), ColumnSpec(multi_label=True))
    assert data.labels == [("sport",), ("tech",), ("sport",)]
    assert "--multi-label, but every row of column 'label' has one label" in caplog.text
    gaps = _labelled_csv(tmp_path / "gaps.csv", ["a|b", "a||b", "b|"])
    with pytest.raises(InputError, match=r"empty label between '\|' separators \(data rows 2, 3\)"):
        read_labelled(str(gaps), ColumnSpec(label_separator="|"))
    mixed = _labelled_csv(tmp_path / "mixed.csv", ["1|2", "2|x"])
    with pytest.raises(InputError, match="mixes numeric labels"):
        read_labelled(str(mixed), ColumnSpec(multi_label=True))


# Built-in sets derived from the BBC corpus.
@pytest.fixture(scope="module")
def bbc_pairs_data():
    return read_labelled("bbc-pairs")


@pytest.fixture(scope="module")
def bbc_multilabel_data():
    return read_labelled("bbc-multilabel")


def test_builtin_names() -> None:
    assert BUILTIN_DATASETS == ("bbc-news", "bbc-headlines", "bbc-pairs", "bbc-multilabel")


def test_bbc_pairs(bbc_pairs_data) -> None:
    data = bbc_pairs_data
    assert len(data.texts) == len(data.text_pairs) == 4120 and not data.multi_label
    assert Counter(data.labels) == {"match": 2060, "mismatch": 2060}
    articles, categories = read_bbc()
    category, own_body = {}, {}
    for article, label in zip(articles, categories):
        headline, _, rest = article.partition("\n")
        body = "\n\n".join(line.strip() for line in rest.split("\n") if line.strip())
        category[headline.strip()] = category[body] = label
        own_body.setdefault(headline.strip(), body)
    first = data.texts.index("Ad sales boost Time Warner profit")
    assert data.labels[first] == "match"
    assert data.text_pairs[first].startswith("Quarterly profits at US media giant TimeWarner")
    examples = list(zip(data.texts, data.text_pairs, data.labels))
    # Each headline: once with its own body, once with another article's; each body likewise.
    assert set(Counter(data.texts).values()) == {2} and set(Counter(data.text_pairs).values()) == {
        2
    }
    assert all(own_body[head] == body for head, body, label in examples if label == "match")
    mismatches = [(head, body) for head, body, label in examples if label == "mismatch"]
    assert all(own_body[head] != body for head, body in mismatches)
    hard = sum(category[head] == category[body] for head, body in mismatches)
    assert hard == 1026  # about half: bodies on the headline's own topic
    assert len(set(data.groups)) == 1030 and set(Counter(data.groups).values()) == {4}


def test_bbc_multilabel(bbc_multilabel_data) -> None:
    data = bbc_multilabel_data
    assert len(data.texts) == 2001 and data.multi_label and data.text_pairs is None
    sizes = Counter(len(labels) for labels in data.labels)
    assert sizes == {1: 1334, 2: 667}
    counts = Counter(name for labels in data.labels for name in labels)
    assert counts == {
        "business": 642, "sport": 644, "politics": 482, "entertainment": 450, "tech": 450,
    }  # fmt: skip
    assert all(len(set(labels)) == len(labels) for labels in data.labels)
    # A joined text is its group's two single texts, one blank line apart.
    for start in range(0, 30, 3):
        first, second, joined = data.texts[start : start + 3]
        assert joined == f"{first}\n\n{second}"
        assert data.labels[start + 2] == tuple(sorted(data.labels[start] + data.labels[start + 1]))
        assert len(first.split()) <= 45 and len(second.split()) <= 45
    assert len(set(data.texts)) == 2001


def test_builtin_sets_are_deterministic(bbc_pairs_data, bbc_multilabel_data) -> None:
    again = read_labelled("bbc-pairs")
    assert (again.texts, again.text_pairs, again.labels) == (
        bbc_pairs_data.texts, bbc_pairs_data.text_pairs, bbc_pairs_data.labels,
    )  # fmt: skip
    again = read_labelled("bbc-multilabel")
    assert (again.texts, again.labels) == (bbc_multilabel_data.texts, bbc_multilabel_data.labels)
