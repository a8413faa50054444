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
            "flop_fraction_of_precision_ceiling": 0.5,
            "precision_ceiling": {"precision": "float32"},
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


def length_results(lengths, fraction, fp32_ratio, int8_ratio, batch1_ratio) -> dict:
    """The `inference_by_length` figures the length targets read, the same at every length."""
    figures = {
        "batched": {"fused_fp32": {"fraction_of_matmul_ceiling": fraction}},
        "ratios": {
            "fused_vs_plain_fp32": {"median": fp32_ratio},
            "fused_vs_plain_int8": {"median": int8_ratio},
        },
        "batch1_p50_ratios": {"fused_vs_plain_fp32": {"median": batch1_ratio}},
    }
    return {"inference_by_length": {"lengths": {str(length): figures for length in lengths}}}


def test_length_targets_are_judged_at_each_length():
    results = length_results((128, 256, 512), 0.8, 1.1, 1.2, 1.4)
    targets = evaluate_targets(results)
    for length in (128, 256, 512):
        assert targets[f"fused_fp32_fraction_of_matmul_ceiling_{length}"] == {
            "value": 0.8,
            "target": ">= 0.75",
            "met": True,
        }
    assert not targets["fused_vs_plain_fp32_512"]["met"]
    assert targets["fused_vs_plain_int8_512"]["met"]
    assert targets["fused_vs_plain_batch1_p50_512"] == {
        "value": 1.4,
        "target": ">= 1.3",
        "met": True,
    }
    # A --quick run measures 128 tokens only: the other lengths' targets are left out.
    quick = evaluate_targets(length_results((128,), 0.5, 1.3, 1.2, 1.4))
    assert set(quick) == {"fused_fp32_fraction_of_matmul_ceiling_128"}
    assert not quick["fused_fp32_fraction_of_matmul_ceiling_128"]["met"]


def test_training_is_judged_against_the_ceiling_of_its_precision():
    def train(precision: str, fraction: float) -> dict:
        return {
            "train": {
                # Against float32, bfloat16 training can read above 1.
                "flop_fraction_of_matmul_ceiling": 1.6,
                "flop_fraction_of_precision_ceiling": fraction,
                "precision_ceiling": {"precision": precision},
            }
        }

    bfloat16 = evaluate_targets(train("bfloat16", 0.55))
    assert bfloat16["train_flop_fraction_of_bfloat16_ceiling"] == {
        "value": 0.55,
        "target": ">= 0.6",
        "met": False,
    }
    # The float32 target stays in the results, not judged, with the reason.
    skipped = bfloat16["train_flop_fraction_of_matmul_ceiling"]
    assert skipped["judged"] is False and "float32" in skipped["why"]
    float32 = evaluate_targets(train("float32", 0.72))
    assert float32["train_flop_fraction_of_matmul_ceiling"] == {
        "value": 0.72,
        "target": ">= 0.7",
        "met": True,
    }
    assert float32["train_flop_fraction_of_bfloat16_ceiling"]["judged"] is False
