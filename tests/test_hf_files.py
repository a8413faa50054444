"""Tests for `kerasbert.export.hf_files`: an export folder opens in Python transformers, offline,
and its tokenizer gives exactly the predictor's ids."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from kerasbert.common.errors import InputError
from kerasbert.export.hf_files import write_hf_files
from kerasbert.inference.exportdir import ExportDir
from kerasbert.inference.predictor import TextEncoder
from kerasbert.training.rundir import RunDir

# Words of the tiny models' vocabularies (letters spell the rest): texts of any length.
WORDS = "the market shares of a new phone chip said on the web and the team win".split()


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def texts_of_lengths(word_counts: list[int]) -> list[str]:
    return [" ".join(WORDS[index % len(WORDS)] for index in range(count)) for count in word_counts]


def full_lengths(export_dir: Path, texts: list[str], pairs: list[str] | None = None) -> list[int]:
    """Tokens of each input before any truncation, special tokens included."""
    encoder = TextEncoder(export_dir / "tokenizer.json", max_length=10**6)
    return [len(ids) for ids in encoder.encode(texts, pairs)]


def test_export_writes_the_hugging_face_files(tiny) -> None:
    run_dir, export_dir = tiny
    export = ExportDir(export_dir)
    for path in (export.hf_config, export.tokenizer_config, export.special_tokens_map):
        assert path.is_file(), path.name
    metadata = read(export.metadata)
    config = read(export.hf_config)
    labels = metadata["labels"]
    assert config["id2label"] == {str(index): label for index, label in enumerate(labels)}
    assert config["label2id"] == {label: index for index, label in enumerate(labels)}
    assert config["model_type"] == "bert"
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert config["problem_type"] == "single_label_classification"
    # The encoder's shape is the run's saved model's, not a default.
    saved = read(RunDir(run_dir).model / "config.json")
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads"):
        assert config[key] == saved[key], key
    assert config["pad_token_id"] == metadata["pad_token_id"]
    tokenizer_config = read(export.tokenizer_config)
    assert tokenizer_config["model_max_length"] == metadata["max_length"]
    assert tokenizer_config["tokenizer_class"] == "BertTokenizer"
    assert tokenizer_config["do_lower_case"] is metadata["lowercase"]
    assert read(export.special_tokens_map)["pad_token"] == tokenizer_config["pad_token"]
    # kerasbert.json lists the new files with their sizes.
    assert metadata["files"]["config.json"] == export.hf_config.stat().st_size


def test_transformers_opens_the_folder_offline_with_the_predictors_ids(tiny) -> None:
    from transformers import AutoConfig, AutoTokenizer

    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    _, export_dir = tiny
    metadata = read(export_dir / "kerasbert.json")
    config = AutoConfig.from_pretrained(str(export_dir))
    assert type(config).__name__ == "BertConfig"
    assert [config.id2label[index] for index in range(len(metadata["labels"]))] == metadata[
        "labels"
    ]
    tokenizer = AutoTokenizer.from_pretrained(str(export_dir))
    max_length = metadata["max_length"]
    assert tokenizer.model_max_length == max_length
    assert tokenizer.pad_token_id == metadata["pad_token_id"]

    short = texts_of_lengths([1, 3, 7])
    long = texts_of_lengths([40, 90])
    assert max(full_lengths(export_dir, short)) < max_length
    assert min(full_lengths(export_dir, long)) > max_length
    encoder = TextEncoder(export_dir / "tokenizer.json", max_length, metadata["truncation"])
    for texts in (short, long):
        ids = tokenizer(texts, truncation=True)["input_ids"]
        assert ids == encoder.encode(texts)
    # Cut at max_length with the final [SEP] kept, as training and the predictor cut.
    ids = tokenizer(long, truncation=True)["input_ids"]
    assert all(len(row) == max_length and row[-1] == tokenizer.sep_token_id for row in ids)


def test_a_pair_exports_tokenizer_gives_the_predictors_ids_and_segments(tiny_pair) -> None:
    from transformers import AutoTokenizer

    _, export_dir = tiny_pair
    metadata = read(export_dir / "kerasbert.json")
    tokenizer = AutoTokenizer.from_pretrained(str(export_dir))
    encoder = TextEncoder(export_dir / "tokenizer.json", metadata["max_length"])
    texts = texts_of_lengths([2, 5, 60, 3, 45])
    pairs = texts_of_lengths([4, 50, 2, 70, 45])
    lengths = full_lengths(export_dir, texts, pairs)
    assert min(lengths) < metadata["max_length"] < max(lengths)
    encoded = tokenizer(texts, pairs, truncation=True)
    ids, segments = encoder.encode_segments(texts, pairs)
    assert encoded["input_ids"] == ids
    assert encoded["token_type_ids"] == segments


def test_a_multi_label_export_says_multi_label(tiny_multilabel) -> None:
    from transformers import AutoConfig

    _, export_dir = tiny_multilabel
    assert read(export_dir / "config.json")["problem_type"] == "multi_label_classification"
    config = AutoConfig.from_pretrained(str(export_dir))
    assert config.problem_type == "multi_label_classification"


def copy_export(tiny, tmp_path: Path) -> tuple[RunDir, ExportDir]:
    """A copy of the tiny run's model folder and of its export, to change."""
    run_dir, export_dir = tiny
    run = RunDir(tmp_path / "run")
    shutil.copytree(RunDir(run_dir).model, run.model)
    export = ExportDir(tmp_path / "export")
    shutil.copytree(export_dir, export.path)
    return run, export


def test_a_tail_cut_export_truncates_on_the_left_as_the_predictor_does(tiny, tmp_path) -> None:
    from transformers import AutoTokenizer

    run, export = copy_export(tiny, tmp_path)
    metadata = read(export.metadata)
    export.metadata.write_text(json.dumps({**metadata, "truncation": "tail"}), encoding="utf-8")
    write_hf_files(run, export)
    assert read(export.tokenizer_config)["truncation_side"] == "left"
    tokenizer = AutoTokenizer.from_pretrained(str(export.path))
    texts = texts_of_lengths([3, 40, 90])
    encoder = TextEncoder(export.tokenizer, metadata["max_length"], "tail")
    assert tokenizer(texts, truncation=True)["input_ids"] == encoder.encode(texts)


def test_a_model_folder_without_tokenizer_files_falls_back_on_tokenizer_json(
    tiny, tmp_path
) -> None:
    from transformers import AutoTokenizer

    run, export = copy_export(tiny, tmp_path)
    saved = read(run.model / "tokenizer_config.json")
    (run.model / "tokenizer_config.json").unlink()
    (run.model / "special_tokens_map.json").unlink()
    write_hf_files(run, export)
    written = read(export.tokenizer_config)
    assert written["do_lower_case"] is saved["do_lower_case"]
    for role in ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
        assert written[role] == saved[role], role
    tokenizer = AutoTokenizer.from_pretrained(str(export.path))
    assert tokenizer.pad_token_id == read(export.metadata)["pad_token_id"]


def test_a_model_config_without_the_encoders_shape_is_refused(tiny, tmp_path) -> None:
    run, export = copy_export(tiny, tmp_path)
    config = read(run.model / "config.json")
    del config["num_attention_heads"]
    (run.model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(InputError, match="num_attention_heads"):
        write_hf_files(run, export)
