"""Tests for `kerasbert.config` and the CLI's flag/config-file merging."""

from __future__ import annotations

import json

import pytest

from kerasbert.cli.main import build_parser
from kerasbert.cli.train import config_from_args
from kerasbert.common.errors import InputError
from kerasbert.config import TrainConfig


def parse(*argv: str) -> TrainConfig:
    return config_from_args(build_parser().parse_args(["train", *argv]))


def test_defaults_are_the_documented_job() -> None:
    config = parse()
    assert config == TrainConfig()
    assert (config.data, config.model, config.max_length) == ("bbc-news", "minilm", 128)


def test_every_issue_flag_exists() -> None:
    config = parse(
        "--data", "f.csv", "--validation-data", "v.csv", "--test-data", "t.csv",
        "--text-column", "body", "--label-column", "y", "--model", "minilm",
        "--max-length", "64", "--batch-size", "8", "--epochs", "2", "--learning-rate", "3e-5",
        "--seed", "7", "--max-train-samples", "100", "--max-eval-samples", "50",
        "--output-dir", "runs/x", "--no-plots", "--no-export",
    )  # fmt: skip
    assert config.text_column == "body" and config.label_column == "y"
    assert config.max_length == 64 and config.learning_rate == 3e-5
    assert config.max_train_samples == 100 and config.output_dir == "runs/x"
    assert config.plots is False and config.export is False


def test_config_file_then_flags_override(tmp_path) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"data": "bbc-headlines", "epochs": 5, "batch-size": 4}))
    config = parse("--config", str(path), "--epochs", "1")
    assert (config.data, config.epochs, config.batch_size) == ("bbc-headlines", 1, 4)


def test_yaml_config(tmp_path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("data: bbc-headlines\nmax_length: 32\n")
    assert TrainConfig.from_file(path).max_length == 32


def test_unknown_keys_are_named(tmp_path) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"epoch": 3, "lerning_rate": 1e-4}))
    with pytest.raises(InputError, match="epoch, lerning_rate"):
        TrainConfig.from_file(path)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("epochs", 0, "--epochs must be a positive integer"),
        ("batch_size", -4, "--batch-size must be a positive integer"),
        ("learning_rate", 0.0, "--learning-rate must be > 0"),
        ("padding", "dynamic", "--padding must be one of bucket, longest, fixed"),
        ("test_fraction", 1.5, "--test-fraction must be between 0 and 1"),
    ],
)
def test_bad_values_are_refused(field: str, value, message: str) -> None:
    with pytest.raises(InputError, match=message):
        TrainConfig(**{field: value})


def test_config_round_trips_through_json() -> None:
    config = TrainConfig(data="bbc-headlines", epochs=2)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_data_layout_flags() -> None:
    config = parse(
        "--text-column", "question", "--text-pair-column", "sentence", "--multi-label",
        "--label-separator", "|", "--class-weight", "balanced", "--truncation", "head_tail",
    )  # fmt: skip
    assert (config.text_column, config.text_pair_column) == ("question", "sentence")
    assert config.multi_label is True and config.label_separator == "|"
    assert (config.class_weight, config.truncation) == ("balanced", "head_tail")
    assert parse("--no-multi-label").multi_label is False
    assert parse("--label-columns", "toxic,insult").label_columns == "toxic,insult"
    defaults = TrainConfig()
    assert (defaults.multi_label, defaults.class_weight, defaults.truncation) == (
        None, "auto", "head",
    )  # fmt: skip
    assert defaults.text_pair_column is None and defaults.label_columns is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"truncation": "middle"},
            "--truncation must be one of head, tail, head_tail; got 'middle'",
        ),
        ({"class_weight": "inverse"}, "--class-weight must be one of auto, balanced, none"),
        (
            {"text_column": "text", "text_pair_column": "text"},
            "--text-pair-column and --text-column are both 'text'",
        ),
        (
            {"label_column": "label", "label_columns": "a,b"},
            "--label-columns .* and --label-column .* exclude each other",
        ),
        ({"label_columns": "a,,b"}, "--label-columns 'a,,b' has an empty name"),
        ({"label_columns": "a,b,a"}, r"--label-columns names \['a'\] more than once"),
        (
            {"multi_label": False, "label_separator": ";"},
            "--no-multi-label contradicts --label-separator",
        ),
        (
            {"multi_label": False, "label_columns": "a,b"},
            "--no-multi-label contradicts --label-columns",
        ),
        ({"multi_label": "yes"}, "--multi-label must be true, false or unset; got 'yes'"),
        ({"label_separator": " "}, "--label-separator must be a visible character"),
        ({"text_pair_column": ""}, "--text-pair-column must be a column name"),
    ],
)
def test_bad_data_layout_settings_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        TrainConfig(**settings)


def test_new_settings_round_trip_through_json() -> None:
    config = TrainConfig(
        text_pair_column="hypothesis", label_columns="a,b", multi_label=True,
        class_weight="none", truncation="tail",
    )  # fmt: skip
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_epochs_follow_the_token_budget() -> None:
    from kerasbert.config import MAX_AUTO_EPOCHS, MIN_AUTO_EPOCHS, TOKEN_BUDGET, planned_epochs

    # The default job's 1,489 articles at 128 tokens keep two epochs.
    assert planned_epochs(TrainConfig(), 1489 * 128) == 2
    assert planned_epochs(TrainConfig(), TOKEN_BUDGET // 3 + 1) == 3
    assert planned_epochs(TrainConfig(), 100) == MAX_AUTO_EPOCHS
    assert planned_epochs(TrainConfig(), 10 * TOKEN_BUDGET) == MIN_AUTO_EPOCHS
    assert planned_epochs(TrainConfig(token_budget=20), 4) == 5
    # An explicit --epochs always wins, in either direction.
    assert planned_epochs(TrainConfig(epochs=1), 4) == 1
    assert planned_epochs(TrainConfig(epochs=30), 1489 * 128) == 30
    with pytest.raises(InputError, match="--token-budget must be a positive integer"):
        TrainConfig(token_budget=0)
    with pytest.raises(InputError, match="--epochs must be a positive integer"):
        TrainConfig(epochs=0)
