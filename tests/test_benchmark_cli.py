"""Tests for `kerasbert.benchmark.cli`: `--quick` end to end through `scripts/benchmark.py` on a
tiny checkpoint (it proves the run works and writes every key; timings are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_quick_run_writes_every_required_key(tiny_checkpoint, tiny_csv, tmp_path):
    output = tmp_path / "benchmark.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "benchmark.py"),
            "--quick",
            "--data",
            str(tiny_csv),
            "--text-column",
            "text",
            "--label-column",
            "label",
            "--model",
            str(tiny_checkpoint),
            "--batch-size",
            "8",
            "--max-train-samples",
            "40",
            "--max-eval-samples",
            "16",
            "--inference-texts",
            "16",
            "--latency-texts",
            "4",
            "--cold-start-runs",
            "1",
            "--seeds",
            "2",
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(output.read_text())
    for mode in ("fixed", "longest", "bucketed"):
        figures = results["train"]["tiny"][mode]
        for key in ("examples_per_s", "tokens_per_s", "padding_efficiency", "accuracy"):
            assert figures[key] >= 0, (mode, key)
        assert 0 < figures["padding_efficiency"] <= 1
        assert len(figures["accuracy_per_seed"]) == 2
        assert figures["accuracy"] == pytest.approx(sum(figures["accuracy_per_seed"]) / 2)
        assert figures["steps"] == 2 * 5  # 40 examples in batches of 8, once per seed
    # Fixed padding to 64 tokens processes far more padding than per-batch padding does.
    tiny = results["train"]["tiny"]
    assert tiny["fixed"]["padding_efficiency"] < tiny["longest"]["padding_efficiency"]
    assert tiny["longest"]["padding_efficiency"] <= tiny["bucketed"]["padding_efficiency"]
    assert tiny["step_cost"]["steps"] == 2 * 2 * (5 - 1)  # two modes, two seeds, warm-up left out
    assert 0 < results["train"]["flop_fraction_of_matmul_ceiling"]
    assert 0 < results["train"]["step_matmuls"]["share_of_step_time"]
    # The tiny model takes 64 positions, so no data set ran fixed padding at 128: the step
    # profile (at the model's longest length) gives the FLOP rate.
    profile = results["train"]["step_profile"]
    assert profile["length"] == 64 and profile["flop_rate"] == results["train"]["flop_rate_at_128"]
    assert profile["forward_seconds"] > 0 and profile["step_seconds"] > profile["forward_seconds"]
    assert "one 8×64 step" in completed.stdout
    # The op-time profile: the bucketed batches' length and the model's longest, every op
    # counted once, the categories the misses are argued from all present.
    op_time = profile["op_time"]
    assert len(op_time) == 2 and "8x64" in op_time
    for figures in op_time.values():
        assert sum(figures["share"].values()) == pytest.approx(1)
        assert sum(figures["ms_per_step"].values()) == pytest.approx(figures["op_ms_per_step"])
        for name in ("optimizer", "matmul", "dropout", "attention", "layer_norm"):
            assert figures["share"][name] > 0, name
        assert figures["ops_at_once"] > 0.1
    assert "training step op time (share)" in completed.stdout
    # `auto` precision as the training job resolves it; on a CPU with native bfloat16 the step
    # is also timed with and without the bfloat16 rewrite.
    assert results["settings"]["precision"] in ("fp32", "cpu_bfloat16")
    turns = profile["precision_step_seconds"]
    if results["settings"]["precision"] == "cpu_bfloat16":
        assert set(turns) == set(op_time)
        for timed in turns.values():
            assert timed["speedup"] == pytest.approx(timed["fp32"] / timed["cpu_bfloat16"])
        assert results["train"]["flop_fraction_of_bfloat16_matmul"] > 0
        assert "with the bfloat16 rewrite and without" in completed.stdout
    else:
        assert turns == {}
    assert "the step's matmuls alone" in completed.stdout
    for engine in ("tf", "ort_fp32", "ort_optimized", "ort_int8"):
        for key in ("batch1_p50_ms", "batch1_p95_ms", "batch32_seq_per_s"):
            assert results["inference"][engine][key] > 0, (engine, key)
    for process in ("predictor", "tf_predict"):
        assert results[process]["cold_start_s"] > 0
        assert results[process]["peak_rss_mb"] > 0
    assert {"machine", "versions", "date", "targets"} <= set(results)
    assert results["versions"]["tensorflow"]
    assert "tiny (64), fixed" in completed.stdout
    markdown = output.with_suffix(".md").read_text()
    assert "| tiny (64), bucketed |" in markdown and "| ort_int8 |" in markdown
    assert markdown.startswith("`python scripts/benchmark.py --quick --data ")
