"""Tests for `kerasbert.benchmark.speed`: throughput and the step cost fit from step records."""

from __future__ import annotations

import pytest

from kerasbert.benchmark.speed import speed_summary, step_cost_fit


def test_speed_summary_leaves_out_warmup_batches():
    records = [
        {"seconds": 10.0, "examples": 4, "real": 8, "processed": 16, "flops": 1.0},
        {"seconds": 1.0, "examples": 4, "real": 12, "processed": 16, "flops": 2.0},
        {"seconds": 1.0, "examples": 2, "real": 6, "processed": 8, "flops": 2.0},
    ]
    summary = speed_summary(records, skip=1)
    assert summary["examples_per_s"] == pytest.approx(3.0)
    assert summary["tokens_per_s"] == pytest.approx(9.0)
    assert summary["flop_rate"] == pytest.approx(2.0)
    # Padding efficiency counts every batch, warm-up included.
    assert summary["padding_efficiency"] == pytest.approx(26 / 40)
    assert summary["warmup_seconds"] == pytest.approx(10.0)


def test_step_cost_fit_separates_per_step_and_per_token_cost():
    records = [{"processed": tokens, "seconds": 0.2 + tokens * 5e-4} for tokens in (320, 640, 960)]
    fit = step_cost_fit(records)
    assert fit["per_step_ms"] == pytest.approx(200)
    assert fit["per_1k_tokens_ms"] == pytest.approx(500)
    assert fit["r_squared"] == pytest.approx(1.0)
    assert step_cost_fit(records[:1]) is None  # one shape: nothing to separate
