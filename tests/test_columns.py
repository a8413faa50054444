"""Tests for `kerasbert.common.columns`: training and prediction find a file's text columns alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from kerasbert.common.columns import find_pair_columns, find_text_column, pick_column
from kerasbert.common.errors import InputError
from kerasbert.data.readers import read_labelled
from kerasbert.inference.textfiles import read_pairs, read_texts


@pytest.mark.parametrize(
    ("header", "column"),
    [("id,Body,label", "Body"), ("headline,label", "headline"), ("n,review,stars", "review")],
)
def test_training_and_prediction_take_the_same_text_column(
    tmp_path: Path, header: str, column: str
) -> None:
    names = header.split(",")
    path = tmp_path / "data.csv"
    rows = [[f"{name}-{index}" for name in names] for index in range(3)]
    path.write_text("\n".join([header, *(",".join(row) for row in rows)]) + "\n", "utf-8")
    expected = [row[names.index(column)] for row in rows]
    assert find_text_column(path, names) == column
    assert read_texts(path) == expected
    if "label" in names:
        assert read_labelled(str(path)).texts == expected


def test_several_candidates_are_refused_on_both_sides(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("headline,text,label\nh,t,a\n", encoding="utf-8")
    message = r"several possible text columns \['headline', 'text'\]; choose one with --text-col"
    with pytest.raises(InputError, match=message):
        read_labelled(str(path))
    with pytest.raises(InputError, match=message):
        read_texts(path)
    assert read_texts(path, "headline") == ["h"]
    assert find_text_column(path, ["words"]) == "words"  # the only column is the text
    with pytest.raises(InputError, match=r"Columns found: \['a', 'b'\]; pass --text-column"):
        find_text_column(path, ["a", "b"])
    with pytest.raises(InputError, match=r"no column 'stars' \(from --label-column\)"):
        pick_column(path, ["text", "label"], "stars", ("label",), "label")


def test_pair_columns_are_found_by_one_rule(tmp_path: Path) -> None:
    columns = ["question1", "question2", "premise", "hypothesis", "label"]
    with pytest.raises(InputError, match="several possible pairs of text columns"):
        find_pair_columns("d.csv", columns)
    assert find_pair_columns("d.csv", columns, "premise") == ("premise", "hypothesis")
    assert find_pair_columns("d.csv", columns, None, "question2") == ("question1", "question2")
    # A second column without a listed partner: the first text is found as a single text is.
    assert find_pair_columns("d.csv", ["text", "answer", "label"], None, "answer") == (
        "text",
        "answer",
    )
    with pytest.raises(InputError, match="the text and second-text columns are both 'text'"):
        find_pair_columns("d.csv", ["text", "label"], "text", "text")
    path = tmp_path / "pairs.csv"
    path.write_text("Sentence1,Sentence2,label\na,b,x\nc,d,y\n", encoding="utf-8")
    data = read_labelled(str(path))
    assert (data.texts, data.text_pairs) == (["a", "c"], ["b", "d"]) == read_pairs(path)
