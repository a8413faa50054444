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
