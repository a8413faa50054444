"""Tests for `kerasbert.training.rundir`: the run directory's split files in all three forms."""

from __future__ import annotations

import json

import pytest

from kerasbert.common.errors import InputError
from kerasbert.data.splits import Examples
from kerasbert.training.rundir import RunDir


def _lines(run: RunDir, split: str) -> list[dict]:
    return [json.loads(line) for line in run.split_path(split).read_text("utf-8").splitlines()]


def test_single_texts_keep_the_text_label_form(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    examples = Examples(["café au lait", "two\nlines"], ["a", "b"])
    run.write_split("train", examples)
    assert _lines(run, "train") == [
        {"text": "café au lait", "label": "a"},
        {"text": "two\nlines", "label": "b"},
    ]
    assert "café" in run.split_path("train").read_text("utf-8")  # not \u-escaped
    assert run.read_split("train") == examples


def test_text_pairs_round_trip(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    examples = Examples(["q1", "q2"], ["yes", "no"], ["s1", "s2"])
    run.write_split("validation", examples)
    assert _lines(run, "validation")[0] == {"text": "q1", "text_pair": "s1", "label": "yes"}
    loaded = run.read_split("validation")
    assert loaded == examples and loaded.text_pairs == ["s1", "s2"]


def test_multi_label_round_trips_with_a_labels_list(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    examples = Examples(["x", "y", "z"], [("sport", "tech"), (), ("tech",)], ["p", "q", "r"])
    run.write_split("test", examples)
    assert _lines(run, "test")[:2] == [
        {"text": "x", "text_pair": "p", "labels": ["sport", "tech"]},
        {"text": "y", "text_pair": "q", "labels": []},
    ]
    loaded = run.read_split("test")
    assert loaded.labels == [("sport", "tech"), (), ("tech",)] and loaded.multi_label
    assert loaded.label_ids(["sport", "tech"]).tolist() == [[1, 1], [0, 0], [0, 1]]


def test_damaged_split_files_are_named(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    run.split_path("test").parent.mkdir(parents=True)
    run.split_path("test").write_text('{"text": "a", "label": "x"}\n{"text": "b"}\n')
    with pytest.raises(InputError, match=r"test.jsonl line 2 is not a kerasbert example"):
        run.read_split("test")
    run.split_path("test").write_text(
        '{"text": "a", "text_pair": "p", "label": "x"}\n{"text": "b", "label": "y"}\n'
    )
    with pytest.raises(InputError, match='some lines have a "text_pair" and others not'):
        run.read_split("test")
    with pytest.raises(FileNotFoundError, match="train.jsonl does not exist"):
        run.read_split("train")
