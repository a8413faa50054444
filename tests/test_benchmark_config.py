"""Tests for `kerasbert.benchmark.config`: `--quick` defaults and bad settings."""

from __future__ import annotations

import pytest

from kerasbert.benchmark import BenchmarkConfig
from kerasbert.common.errors import InputError


def test_quick_keeps_only_headlines_unless_data_is_given():
    assert BenchmarkConfig(quick=True).resolved().data == ("bbc-headlines",)
    assert BenchmarkConfig(quick=True, data=("x.csv",)).resolved().data == ("x.csv",)
    assert BenchmarkConfig().resolved().epochs == 2


def test_bad_settings_raise_input_error():
    with pytest.raises(InputError, match="--batch-size"):
        BenchmarkConfig(batch_size=0).resolved().validate()
    with pytest.raises(InputError, match="--precision"):
        BenchmarkConfig(precision="fp8").resolved().validate()


def test_only_lengths_needs_the_work_dir_of_an_earlier_run():
    with pytest.raises(InputError, match="--work-dir"):
        BenchmarkConfig(only="lengths").resolved().validate()
    with pytest.raises(InputError, match="--only"):
        BenchmarkConfig(only="training", work_dir="w").resolved().validate()
    BenchmarkConfig(only="lengths", work_dir="w").resolved().validate()


def test_inference_lengths_are_capped_at_the_models_positions():
    assert BenchmarkConfig().inference_lengths(512) == [128, 256, 512]
    assert BenchmarkConfig(quick=True).inference_lengths(512) == [128]
    assert BenchmarkConfig().inference_lengths(300) == [128, 256, 300]
    assert BenchmarkConfig().inference_lengths(64) == [64]


def test_every_setting_is_a_flag_by_the_shared_rule():
    """One flag per field, help from the field, `--x/--no-x` for a bool; flags not given leave
    the dataclass default (so `--quick`'s defaults are applied by `resolved`, not argparse)."""
    import argparse
    import dataclasses

    from kerasbert.benchmark.cli import add_benchmark_flags
    from kerasbert.common.settings import given_settings

    parser = argparse.ArgumentParser()
    add_benchmark_flags(parser, load_test=False)
    text = " ".join(parser.format_help().split())
    for item in dataclasses.fields(BenchmarkConfig):
        flag = "--" + item.name.replace("_", "-")
        if item.type == "bool":
            assert f"{flag}, --no-{flag[2:]}" in text, flag
        else:
            assert flag + " " in text, flag
        assert " ".join(item.metadata["help"].split()) in text, flag

    given = given_settings(parser.parse_args(["--quick", "--seeds", "2"]), BenchmarkConfig)
    assert given == {"quick": True, "seeds": 2}
    config = BenchmarkConfig(**given).resolved()
    assert (config.seeds, config.epochs, config.data) == (2, 1, ("bbc-headlines",))
