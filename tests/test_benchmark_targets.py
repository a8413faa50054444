"""Tests for `kerasbert.benchmark.targets`: the targets table judged on a run's figures."""

from __future__ import annotations

import pytest

from kerasbert.benchmark.targets import Ratio, Target, evaluate_targets


def test_targets_are_judged_on_the_figures():
    def mode(speed: float, efficiency: float, accuracy: float) -> dict:
        return {"examples_per_s": speed, "padding_efficiency": efficiency, "accuracy": accuracy}

    results = {
        "train": {
            "bbc-headlines": {
                "fixed": mode(1.0, 0.07, 0.900),
                "longest": mode(4.0, 0.70, 0.902),
                "bucketed": mode(6.0, 0.98, 0.899),
            },
            "flop_fraction_of_matmul_ceiling": 0.5,
        },
        "predictor": {"cold_start_s": 0.4, "peak_rss_mb": 350.0},
    }
    targets = evaluate_targets(results)
    assert targets["bbc-headlines.bucketed_vs_longest"] == {
        "value": 1.5,
        "target": ">= 1.3",
        "met": True,
    }
    assert targets["bbc-headlines.bucketed_vs_fixed"]["met"]
    assert targets["bbc-headlines.bucketed_speedup_over_efficiency_gain"]["value"] == pytest.approx(
        1.5 / 1.4, abs=1e-4
    )
    assert targets["bbc-headlines.accuracy_spread_points"]["value"] == pytest.approx(0.3)
    assert targets["predictor_cold_start_s"]["met"]
    assert not targets["predictor_peak_rss_mb"]["met"]
    assert not targets["train_flop_fraction_of_matmul_ceiling"]["met"]


def test_quick_runs_do_not_judge_accuracy_agreement():
    modes = {
        mode: {"examples_per_s": 1.0, "padding_efficiency": 0.5, "accuracy": accuracy}
        for mode, accuracy in (("fixed", 0.5), ("longest", 0.7), ("bucketed", 0.6))
    }
    full = evaluate_targets({"train": {"x": modes}})["x.accuracy_spread_points"]
    assert full["value"] == pytest.approx(20.0) and not full["met"] and "judged" not in full
    quick = evaluate_targets({"train": {"x": modes}, "settings": {"quick": True}})
    assert quick["x.accuracy_spread_points"]["judged"] is False
    assert "--quick" in quick["x.accuracy_spread_points"]["why"]


def test_any_target_table_is_judged_by_the_same_function():
    table = [
        Target("rss", "predictor.peak_rss_mb", "<=", 300, "small"),
        Target("int8_vs_fp32", Ratio("a.int8", "a.fp32"), ">=", 2, "fast"),
        Target("unmeasured", "inference.tf.batch32_seq_per_s", ">=", 1, "absent: left out"),
    ]
    results = {"predictor": {"peak_rss_mb": 250.0}, "a": {"int8": 3.0, "fp32": 2.0}}
    assert evaluate_targets(results, table) == {
        "rss": {"value": 250.0, "target": "<= 300", "met": True},
        "int8_vs_fp32": {"value": 1.5, "target": ">= 2", "met": False},
    }
