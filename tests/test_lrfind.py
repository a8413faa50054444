"""Tests for `kerasbert.experiments.lrfind`: the suggestion rule, and a range test through the CLI."""

from __future__ import annotations

import json
import math

from kerasbert.cli import main
from kerasbert.experiments.lrfind import MIN_LOSS_DIVISOR, suggest_learning_rate


def test_suggestion_is_a_tenth_of_the_lowest_loss_rate() -> None:
    rates = [10.0 ** (step / 10 - 6) for step in range(50)]  # 1e-6 .. 1e-1.1
    # Flat, falling fastest at 1e-4, lowest at 1e-2, then rising.
    losses = [
        2.0 / (1 + math.exp(4 * (math.log10(rate) + 4))) + (math.log10(rate) + 2) ** 2 / 10
        for rate in rates
    ]
    suggested, lowest, steepest = suggest_learning_rate(rates, losses)
    assert math.isclose(math.log10(lowest), -2, abs_tol=0.15)
    assert suggested == lowest / MIN_LOSS_DIVISOR
    assert math.isclose(math.log10(steepest), -4, abs_tol=0.15)
    assert suggest_learning_rate(rates[:2], losses[:2]) == (None, None, None)


def test_lr_find_writes_its_curve_and_suggestion(
    learnable_checkpoint, keyword_csv, tmp_path, capsys
):
    output = tmp_path / "lr-find"
    arguments = [
        "lr-find",
        "--data", str(keyword_csv),
        "--model", str(learnable_checkpoint),
        "--max-length", "40",
        "--batch-size", "8",
        "--start-lr", "1e-5",
        "--end-lr", "100",
        "--steps", "40",
        "--output", str(output),
    ]  # fmt: skip
    assert main(arguments) == 0
    result = json.loads((output / "lr_find.json").read_text())
    assert (output / "lr_find.png").stat().st_size > 10_000
    rates = result["rates"]
    assert 3 <= len(rates) <= 40 and rates == sorted(rates)
    assert math.isclose(rates[0], 1e-5, rel_tol=1e-3)
    assert rates[0] <= result["min_loss_rate"] <= rates[-1]
    assert result["suggested"] == result["min_loss_rate"] / MIN_LOSS_DIVISOR
    # Rates past 1 wreck the weights: the test stops before its last step.
    assert result["diverged"] and len(rates) < 40
    assert f"Suggested learning rate: {result['suggested']:.1e}" in capsys.readouterr().out
