"""Tests for `kerasbert.data.splits` (and `examples`, `stratify`): duplicates, stratified splits, text
pairs, multi-label data and class weights."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_texts, write_csv
from sklearn.utils.class_weight import compute_class_weight

from kerasbert.common.errors import InputError
from kerasbert.config import TrainConfig
from kerasbert.data.splits import Examples, class_weights, imbalance, load_splits, splits_for


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


def test_integer_labels_sort_numerically(tmp_path) -> None:
    rows = [(f"text number {i}", str(i % 11)) for i in range(110)]
    splits = load_splits(str(write_csv(tmp_path / "d.csv", rows)), seed=0)
    assert splits.labels == [str(i) for i in range(11)]


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


def _write_rows(path: Path, header: list[str], rows: list[list]) -> Path:
    delimiter = "\t" if path.suffix == ".tsv" else ","
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _splits(splits) -> list:
    return [splits.train, splits.validation, splits.test]


# Examples.
def test_examples_label_ids_and_counts() -> None:
    single = Examples(["a", "b", "c"], ["y", "x", "y"])
    assert single.label_ids(["x", "y"]).tolist() == [1, 0, 1]
    assert single.label_ids(["x", "y"]).dtype == np.int32
    assert single.class_counts() == {"x": 1, "y": 2} and not single.multi_label
    multi = Examples(["a", "b", "c"], [("x", "z"), (), ["z"]])
    hot = multi.label_ids(["x", "y", "z"])
    assert hot.dtype == np.float32 and hot.shape == (3, 3)
    assert hot.tolist() == [[1, 0, 1], [0, 0, 0], [0, 0, 1]]
    assert multi.class_counts() == {"x": 1, "z": 2} and multi.labels[2] == ("z",)
    with pytest.raises(ValueError, match="mix single labels"):
        Examples(["a", "b"], ["x", ("y",)])
    with pytest.raises(ValueError, match="2 texts but 1 second texts"):
        Examples(["a", "b"], ["x", "y"], ["p"])


# Text pairs.
def _pair_rows(count_per_class: int = 12) -> list[list[str]]:
    rows = []
    for index, (text, label) in enumerate(tiny_texts(count_per_class, seed=5)):
        rows.append([text, f"second text {index}", label])
    return rows


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_pairs_split_with_their_second_texts(tmp_path, suffix: str) -> None:
    rows = _pair_rows()
    # The same first text with another second text is another example; the same pair is a
    # duplicate.
    rows += [[rows[0][0], "a different second text", rows[0][2]], rows[1]]
    path = _write_rows(tmp_path / f"pairs{suffix}", ["sentence1", "sentence2", "label"], rows)
    splits = load_splits(str(path), seed=0)
    assert splits.pair and splits.task == "single_label" and splits.duplicates_dropped == 1
    summary = splits.summary()
    assert (summary["pair"], summary["task"]) == (True, "single_label")
    assert summary["columns"] == {
        "text": "sentence1", "text_pair": "sentence2", "label": "label",
        "label_format": "one label",
    }  # fmt: skip
    loaded = sorted(
        (text, pair, label)
        for split in _splits(splits)
        for text, pair, label in zip(split.texts, split.text_pairs, split.labels)
    )
    assert loaded == sorted({tuple(row) for row in rows})


@pytest.mark.parametrize(
    "encoding", ["utf-16", "utf-16-le", "utf-16-be", "cp1252"], ids=["UTF-16 with BOM",
    "UTF-16-LE without BOM", "UTF-16-BE without BOM", "Windows-1252"]
)  # fmt: skip
def test_splits_of_text_pairs_in_any_encoding_keep_every_character(tmp_path, encoding) -> None:
    rows = _pair_rows(8)
    rows[0][0], rows[1][1] = "Café crème — “€5”", 'naïve, "déjà vu"\nsecond line'
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([["premise", "hypothesis", "label"], *rows])
    path = tmp_path / "pairs.csv"
    path.write_bytes(buffer.getvalue().encode(encoding))
    splits = load_splits(str(path), seed=0)
    loaded = sorted(
        (text, pair, label)
        for split in _splits(splits)
        for text, pair, label in zip(split.texts, split.text_pairs, split.labels)
    )
    assert loaded == sorted(tuple(row) for row in rows)


def test_given_files_must_have_the_same_layout(tmp_path) -> None:
    pairs = _write_rows(tmp_path / "pairs.csv", ["sentence1", "sentence2", "label"], _pair_rows())
    single = write_csv(tmp_path / "single.csv", tiny_texts(3, seed=9))
    with pytest.raises(
        InputError, match=r"single.csv holds single texts but .*pairs.csv holds text pairs"
    ):
        load_splits(str(pairs), test_data=str(single))


# Multi-label.
def _multi_rows(count: int = 60) -> list[list[str]]:
    sets = ["sport", "tech", "business", "sport|tech", "business|tech", "sport"]
    return [[f"text number {index}", sets[index % len(sets)]] for index in range(count)]


def test_multi_label_splits(tmp_path) -> None:
    path = _write_rows(tmp_path / "multi.csv", ["text", "labels"], _multi_rows())
    splits = load_splits(str(path), seed=1)
    assert splits.task == "multi_label" and not splits.pair
    assert splits.labels == ["business", "sport", "tech"]
    assert splits.stratification == "label sets"
    assert [len(split) for split in _splits(splits)] == [42, 6, 12]
    assert sorted(
        (text, labels)
        for split in _splits(splits)
        for text, labels in zip(split.texts, split.labels)
    ) == sorted((text, tuple(sorted(cell.split("|")))) for text, cell in _multi_rows())
    # Stratified on the label set: every split has the same mix.
    assert Counter(splits.test.labels) == {
        ("sport",): 4, ("tech",): 2, ("business",): 2, ("sport", "tech"): 2, ("business", "tech"): 2,
    }  # fmt: skip
    hot = splits.train.label_ids(splits.labels)
    assert hot.shape == (42, 3) and hot.sum() == sum(len(labels) for labels in splits.train.labels)
    summary = splits.summary()
    assert summary["task"] == "multi_label" and summary["stratification"] == "label sets"
    assert summary["class_counts"]["test"] == {"business": 4, "sport": 6, "tech": 6}
    assert summary["columns"]["label_separator"] == "|"


def test_multi_label_with_rare_sets_stratifies_on_the_rarest_label(tmp_path) -> None:
    odd = ["business|sport", "business|sport", "business|sport|tech"]  # rare sets, rarest: business
    rows = _multi_rows() + [[f"odd text {i}", labels] for i, labels in enumerate(odd)]
    splits = load_splits(str(_write_rows(tmp_path / "m.csv", ["text", "labels"], rows)), seed=1)
    assert splits.stratification == "label sets, the rarest label where a set is rare"
    # "b|c" is rare and too few to stand for label c alone; with the "a|c" texts it is not.
    cells = ["a"] * 20 + ["b"] * 20 + ["a|c"] * 10 + ["b|c"] * 2
    rows = [[f"text {i}", cell] for i, cell in enumerate(cells)]
    splits = load_splits(str(_write_rows(tmp_path / "c.csv", ["text", "labels"], rows)), seed=1)
    assert splits.stratification == "rarest label of each example"
    assert splits.test.class_counts() == {"a": 6, "b": 4, "c": 2}
    # Seven labels in many combinations, 40 texts: too few to stratify at all.
    rows = [[f"t{i}", "|".join(sorted({f"l{i % 7}", f"l{i % 5}", f"l{i % 3}"}))] for i in range(40)]
    splits = load_splits(str(_write_rows(tmp_path / "r.csv", ["text", "labels"], rows)), seed=1)
    assert splits.stratification.startswith("random (seeded)")
    assert set(splits.train.class_counts()) == set(splits.labels)


def test_multi_label_given_files_read_like_the_training_data(tmp_path) -> None:
    train = _write_rows(tmp_path / "train.csv", ["text", "labels"], _multi_rows())
    test = _write_rows(
        tmp_path / "test.csv", ["text", "labels"], [["new one", "tech"], ["two", "sport|tech"]]
    )
    splits = load_splits(str(train), test_data=str(test))
    assert splits.test.labels == [("tech",), ("sport", "tech")]
    unseen = _write_rows(tmp_path / "unseen.csv", ["text", "labels"], [["x", "tech|weather"]])
    with pytest.raises(InputError, match=r"label\(s\) \['weather'\] that the training data never"):
        load_splits(str(train), validation_data=str(unseen))


def test_multi_label_errors(tmp_path) -> None:
    one = _write_rows(
        tmp_path / "one.csv", ["text", "toxic"], [[f"t{i}", i % 2] for i in range(30)]
    )
    with pytest.raises(InputError, match="multi-label data needs at least two"):
        load_splits(str(one), label_columns="toxic")
    rows = _multi_rows() + [["lonely", "weather"]]
    rare = _write_rows(tmp_path / "rare.csv", ["text", "labels"], rows)
    with pytest.raises(InputError, match=r"label\(s\) \{'weather': 1\} have too few examples"):
        load_splits(str(rare))


# The built-in derived sets.
@pytest.mark.parametrize("name", ["bbc-pairs", "bbc-multilabel"])
def test_builtin_sets_share_no_text_across_splits(name: str) -> None:
    splits = load_splits(name, seed=42)
    if splits.pair:  # no headline and no body in two splits
        pieces = [set(split.texts) | set(split.text_pairs) for split in _splits(splits)]
    else:  # a joined text is two single texts: none of them in two splits
        pieces = [
            {lead for text in split.texts for lead in text.split("\n\n")}
            for split in _splits(splits)
        ]
    assert not pieces[0] & pieces[1] and not pieces[0] & pieces[2] and not pieces[1] & pieces[2]
    sizes = [len(split) for split in _splits(splits)]
    assert splits.duplicates_dropped == 0
    if name == "bbc-pairs":
        assert sum(sizes) == 4120 and splits.task == "single_label"
        assert sizes[2] == pytest.approx(0.2 * 4120, abs=4)
        assert splits.train.class_counts()["match"] == splits.train.class_counts()["mismatch"]
    else:
        assert sum(sizes) == 2001 and splits.task == "multi_label"
        assert splits.labels == ["business", "entertainment", "politics", "sport", "tech"]
        assert sizes[2] == pytest.approx(0.2 * 2001, abs=3)
    assert "kept in one split" in splits.stratification
    again = load_splits(name, seed=42)
    assert again.test.texts == splits.test.texts


# Class weights and the imbalance summary.
def _imbalanced_rows() -> list[tuple[str, str]]:
    counts = {"big": 60, "mid": 20, "small": 10}
    return [(f"{label} text {i}", label) for label, count in counts.items() for i in range(count)]


def test_class_weights_match_scikit_learn(tmp_path) -> None:
    splits = load_splits(str(write_csv(tmp_path / "d.csv", _imbalanced_rows())), seed=0)
    ids = splits.train.label_ids(splits.labels)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=ids)
    weights = class_weights(splits, splits.labels, "auto")
    assert list(weights) == [0, 1, 2]
    assert [weights[i] for i in range(3)] == pytest.approx(expected.tolist())
    assert weights[splits.labels.index("small")] == pytest.approx(len(ids) / (3 * 7), rel=0.05)
    assert class_weights(splits.train, splits.labels, "none") is None
    summary = splits.summary()["imbalance"]
    assert summary["counts"] == splits.train.class_counts()
    assert summary["largest_to_smallest"] == pytest.approx(6.0, rel=0.05)
    assert (summary["class_weight"], summary["resolved"], summary["threshold"]) == (
        "auto", "balanced", 3.0,
    )  # fmt: skip


def test_balanced_data_stays_unweighted_under_auto() -> None:
    examples = Examples([f"t{i}" for i in range(30)], ["a", "b", "c"] * 10)
    assert class_weights(examples, ["a", "b", "c"], "auto") is None
    assert imbalance(examples, ["a", "b", "c"])["resolved"] == "none"
    balanced = class_weights(examples, ["a", "b", "c", "d"], "balanced")
    assert balanced == {0: pytest.approx(1.0), 1: pytest.approx(1.0), 2: pytest.approx(1.0), 3: 1.0}
    with pytest.raises(InputError, match="--class-weight must be one of auto, balanced, none"):
        class_weights(examples, ["a", "b", "c"], "inverse")


def test_multi_label_positive_weights() -> None:
    labels = [("a",)] * 16 + [("a", "b")] * 4 + [()] * 4  # a: 20 of 24, b: 4 of 24
    examples = Examples([f"t{i}" for i in range(24)], labels)
    weights = class_weights(examples, ["a", "b"], "auto")
    for position, positives in ((0, 20), (1, 4)):
        column = np.array([1] * positives + [0] * (24 - positives))
        negative_weight, positive_weight = compute_class_weight(
            "balanced", classes=np.array([0, 1]), y=column
        )
        assert weights["positive"][position] == pytest.approx(positive_weight / negative_weight)
    assert weights["positive"] == pytest.approx([4 / 20, 20 / 4])
    assert imbalance(examples, ["a", "b"])["counts"] == {"a": 20, "b": 4}


def test_splits_for_carries_the_new_settings(tmp_path) -> None:
    path = tmp_path / "d.jsonl"
    rows = [
        {"q": f"question {i}", "a": f"answer {i}", "tags": ["x", "y"][: 1 + i % 2]}
        for i in range(30)
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows))
    config = TrainConfig(
        data=str(path), text_column="q", text_pair_column="a", label_column="tags",
        class_weight="none",
    )  # fmt: skip
    splits = splits_for(config)
    assert splits.pair and splits.task == "multi_label" and splits.labels == ["x", "y"]
    assert splits.summary()["imbalance"]["resolved"] == "none"


def test_load_splits_names_data_settings_whose_defaults_are_train_configs(tmp_path) -> None:
    path = str(write_csv(tmp_path / "d.csv", tiny_texts(20, seed=3)))
    named = load_splits(path, seed=5, test_fraction=0.3)
    typed = splits_for(TrainConfig(data=path, seed=5, test_fraction=0.3))
    assert (named.train, named.validation, named.test) == (
        typed.train,
        typed.validation,
        typed.test,
    )
    default = load_splits(path)
    assert default.test == splits_for(TrainConfig(data=path)).test
    assert default.test != named.test
    with pytest.raises(TypeError, match="data settings only .* got epochs"):
        load_splits(path, epochs=3)
    with pytest.raises(InputError, match="--class-weight must be one of"):
        load_splits(path, class_weight="heavy")
