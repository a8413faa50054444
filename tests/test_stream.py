"""Tests for `kerasbert.inference.stream`: batch prediction a chunk at a time, every format in and out."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from tiny_export_fixtures import split_texts

from kerasbert.common.errors import InputError
from kerasbert.common.names import Task
from kerasbert.inference.predictor import OnnxClassifier, predict_file
from kerasbert.inference.stream import predict_stream

pyarrow = pytest.importorskip("pyarrow", reason="the stream extra is not installed")
import pyarrow.parquet as parquet  # noqa: E402

CHUNK = 7  # small, so a test file spans several chunks and a ragged last one


@pytest.fixture(scope="module")
def classifier(tiny: tuple[Path, Path]) -> OnnxClassifier:
    return OnnxClassifier(tiny[1], variant="fp32")


@pytest.fixture(scope="module")
def rows(tiny: tuple[Path, Path]) -> list[dict]:
    texts = split_texts(tiny[0]) + ["", "Café 東京 😀"]
    return [{"doc_id": f"d{index:03d}", "content": text} for index, text in enumerate(texts)]


def _read(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        return parquet.read_table(path).to_pylist()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict]) -> Path:
    if path.suffix == ".parquet":
        parquet.write_table(pyarrow.Table.from_pylist(rows), path, row_group_size=10)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    else:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(
                handle, list(rows[0]), delimiter="\t" if path.suffix == ".tsv" else ","
            )
            writer.writeheader()
            writer.writerows(rows)
    return path


@pytest.mark.parametrize(
    "source, target",
    [(".csv", ".parquet"), (".parquet", ".csv"), (".jsonl", ".jsonl"), (".tsv", ".csv")],
)
def test_every_format_streams_in_order_with_its_id_column(
    classifier: OnnxClassifier, rows: list[dict], tmp_path: Path, source: str, target: str
) -> None:
    input_path = _write(tmp_path / f"in{source}", rows)
    output = tmp_path / f"out{target}"
    count = predict_stream(classifier, input_path, output, chunk_size=CHUNK, progress=False)
    expected = classifier.predict_proba([row["content"] for row in rows])
    written = _read(output)
    assert count == len(rows) == len(written)
    assert list(written[0]) == ["doc_id", "text", "label", "probability"]
    assert [row["doc_id"] for row in written] == [row["doc_id"] for row in rows]
    assert [row["text"] for row in written] == [row["content"] for row in rows]
    assert [row["label"] for row in written] == [classifier.labels[i] for i in expected.argmax(1)]
    np.testing.assert_allclose(
        [float(row["probability"]) for row in written], expected.max(1), atol=1e-6
    )
    assert not list(tmp_path.glob(".*.partial"))


def test_predict_file_and_the_cli_stream_with_a_named_id_column(
    tiny: tuple[Path, Path], rows: list[dict], tmp_path: Path, capsys
) -> None:
    from kerasbert.cli import main

    numbered = [{"n": index, "body": row["content"]} for index, row in enumerate(rows)]
    source = _write(tmp_path / "in.parquet", numbered)
    assert predict_file(tiny[1], source, tmp_path / "a.csv", id_column="n", chunk_size=5) == len(
        rows
    )
    status = main(["predict", str(tiny[1]), "--input", str(source), "--output",
                   str(tmp_path / "b.parquet"), "--id-column", "n", "--chunk-size", "5"])  # fmt: skip
    assert status == 0 and f"Wrote {len(rows)} predictions" in capsys.readouterr().out
    by_csv, by_cli = _read(tmp_path / "a.csv"), _read(tmp_path / "b.parquet")
    assert (
        [int(row["n"]) for row in by_csv] == [row["n"] for row in by_cli] == list(range(len(rows)))
    )
    assert [row["label"] for row in by_csv] == [row["label"] for row in by_cli]


def test_a_plain_text_file_and_an_empty_one(classifier: OnnxClassifier, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("the bank\n\nthe game\n", encoding="utf-8")
    assert predict_stream(classifier, source, tmp_path / "out.csv", progress=False) == 2
    assert [row["text"] for row in _read(tmp_path / "out.csv")] == ["the bank", "the game"]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="empty.jsonl is empty"):
        predict_stream(classifier, empty, tmp_path / "out.parquet", progress=False)


def test_a_bad_row_leaves_no_output(classifier: OnnxClassifier, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    lines = [json.dumps({"text": f"text {index}"}) for index in range(20)] + ["{broken"]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "out.csv"
    with pytest.raises(InputError, match=r"in.jsonl line 21 is not valid JSON"):
        predict_stream(classifier, source, output, chunk_size=CHUNK, progress=False)
    assert not output.exists() and not list(tmp_path.glob(".*.partial"))
    numbers = _write(tmp_path / "numbers.jsonl", [{"text": "a"}, {"text": 3}])
    with pytest.raises(InputError, match=r"row 2: 'text' is not a string"):
        predict_stream(classifier, numbers, output, progress=False)


def test_unsupported_files_and_settings_are_refused(
    classifier: OnnxClassifier, rows: list[dict], tmp_path: Path
) -> None:
    source = _write(tmp_path / "in.csv", rows)
    with pytest.raises(InputError, match=r"must end in .csv, .jsonl, .parquet"):
        predict_stream(classifier, source, tmp_path / "out.xlsx")
    with pytest.raises(InputError, match=r"must end in .csv, .tsv"):
        predict_stream(classifier, tmp_path / "in.docx", tmp_path / "out.csv")
    with pytest.raises(InputError, match="no column 'missing' \\(from --id-column\\)"):
        predict_stream(classifier, source, tmp_path / "out.csv", id_column="missing")
    with pytest.raises(InputError, match="chunk_size must be a positive integer"):
        predict_stream(classifier, source, tmp_path / "out.csv", chunk_size=0)
    bogus = tmp_path / "bogus.parquet"
    bogus.write_bytes(b"PAR1")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        predict_stream(classifier, bogus, tmp_path / "out.csv")


class MultiLabel:
    """What a multi-label `OnnxClassifier` offers the stream: its own probabilities, decided
    by the real `OnnxClassifier.classify`."""

    labels = ["business", "sport", "tech"]
    thresholds = np.array([0.5, 0.5, 0.5])
    task, multi_label, label_separator = Task.MULTI_LABEL, True, "|"
    pair = False
    min_confidence = None
    classify = OnnxClassifier.classify
    _min_confidence = OnnxClassifier._min_confidence

    def predict_proba(self, texts):
        return np.array([[0.9, 0.1, 0.6] if "x" in text else [0.2, 0.8, 0.1] for text in texts])


def test_multi_label_output_has_label_sets_and_every_probability(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.csv", [{"text": "x"}, {"text": "y"}])
    predict_stream(MultiLabel(), source, tmp_path / "out.csv", progress=False)
    predict_stream(MultiLabel(), source, tmp_path / "out.jsonl", progress=False)
    by_csv, by_jsonl = _read(tmp_path / "out.csv"), _read(tmp_path / "out.jsonl")
    assert [row["labels"] for row in by_csv] == ["business|tech", "sport"]
    assert [row["labels"] for row in by_jsonl] == [["business", "tech"], ["sport"]]
    assert by_jsonl[1]["probability_sport"] == 0.8


# Encodings: a file that trains is a file that predicts (one reader, `kerasbert.common.tables`).
SPECIAL_TEXTS = [
    "Café crème — “€5”, naïve déjà vu",
    'He said "win", then left',
    "Multi-line\nchip news; with commas, too",
    "Überraschung: 50 % off",
]
SPECIAL_LABELS = ["business", "sport", "tech", "business"]
ENCODINGS = {
    "UTF-16 with BOM": "utf-16",
    "UTF-16-LE without BOM": "utf-16-le",
    "Windows-1252": "cp1252",
}


def _encoded_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # as spreadsheets write
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def _predict(model: Path, source: Path, output: Path, capsys) -> list[dict]:
    from kerasbert.cli import main

    status = main(["predict", str(model), "--input", str(source), "--output", str(output),
                   "--variant", "fp32"])  # fmt: skip
    assert status == 0 and f"Wrote {len(_read(output))} predictions" in capsys.readouterr().out
    return _read(output)


@pytest.mark.parametrize("encoding", list(ENCODINGS.values()), ids=list(ENCODINGS))
def test_a_file_that_trains_predicts_whatever_its_encoding(
    tiny: tuple[Path, Path], classifier: OnnxClassifier, tmp_path: Path, capsys, encoding: str
) -> None:
    from kerasbert.data.readers import read_labelled
    from kerasbert.predictor import read_texts

    rows = [[f"n{index}", text, label] for index, (text, label) in enumerate(zip(SPECIAL_TEXTS, SPECIAL_LABELS))]  # fmt: skip
    source = _encoded_csv(tmp_path / "data.csv", ["id", "text", "label"], rows, encoding)
    training = read_labelled(str(source))
    assert (training.texts, training.labels) == (SPECIAL_TEXTS, SPECIAL_LABELS)
    assert read_texts(source) == SPECIAL_TEXTS
    written = _predict(tiny[1], source, tmp_path / "out.csv", capsys)
    assert [row["id"] for row in written] == ["n0", "n1", "n2", "n3"]
    assert [row["text"] for row in written] == SPECIAL_TEXTS
    expected = classifier.predict_proba(SPECIAL_TEXTS)
    assert [row["label"] for row in written] == [classifier.labels[i] for i in expected.argmax(1)]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_text_pairs_train_and_predict(
    tiny_pair: tuple[Path, Path], tmp_path: Path, capsys, encoding: str
) -> None:
    from tiny_pair_fixtures import pair_rows

    from kerasbert.data.readers import read_labelled
    from kerasbert.inference.predictor import read_pairs

    rows = [list(row) for row in pair_rows(6, seed=5)]
    rows[0][0], rows[1][1] = "Café " + rows[0][0], rows[1][1] + " — “€5”"
    source = _encoded_csv(
        tmp_path / "pairs.csv", ["question1", "question2", "label"], rows, encoding
    )
    firsts, seconds, labels = (list(column) for column in zip(*rows))
    training = read_labelled(str(source))
    assert (training.texts, training.text_pairs, training.labels) == (firsts, seconds, labels)
    assert read_pairs(source) == (firsts, seconds)
    written = _predict(tiny_pair[1], source, tmp_path / "out.csv", capsys)
    assert [(row["text"], row["text_pair"]) for row in written] == list(zip(firsts, seconds))
    pair_classifier = OnnxClassifier(tiny_pair[1], variant="fp32")
    expected = pair_classifier.predict_proba(list(zip(firsts, seconds)))
    assert [row["label"] for row in written] == [
        pair_classifier.labels[i] for i in expected.argmax(1)
    ]
