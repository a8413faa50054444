"""Tests for `kerasbert.benchmark.config`: `--quick` defaults and bad settings."""

from __future__ import annotations

import pytest

from kerasbert.benchmark import BenchmarkConfig
from kerasbert.errors import InputError


def test_quick_keeps_only_headlines_unless_data_is_given():
    assert BenchmarkConfig(quick=True).resolved().data == ("bbc-headlines",)
    assert BenchmarkConfig(quick=True, data=("x.csv",)).resolved().data == ("x.csv",)
    assert BenchmarkConfig().resolved().epochs == 2


def test_bad_settings_raise_input_error():
    with pytest.raises(InputError, match="--batch-size"):
        BenchmarkConfig(batch_size=0).resolved().validate()
    with pytest.raises(InputError, match="--precision"):
        BenchmarkConfig(precision="fp8").resolved().validate()
