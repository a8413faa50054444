"""Tests for `kerasbert.benchmark.cli`: `--quick` end to end through `scripts/benchmark.py` on a
tiny checkpoint (it proves the run works and writes every key; timings are never asserted), and
the two script shells over `kerasbert benchmark`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_benchmark_script(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "benchmark.py"), *arguments],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def run_script(script: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_scripts_are_the_kerasbert_benchmark_command(tmp_path):
    """`scripts/benchmark.py` and `scripts/load_test.py` parse as `kerasbert benchmark` does:
    the same flags, help and one-line errors with exit status 2."""
    benchmark_help = run_script("benchmark.py", "--help")
    assert benchmark_help.returncode == 0
    assert "usage: kerasbert benchmark" in benchmark_help.stdout
    assert "--quick, --no-quick" in benchmark_help.stdout
    load_test_help = run_script("load_test.py", "--help")
    assert load_test_help.returncode == 0
    assert "--first-line, --no-first-line" in load_test_help.stdout
    assert "--quick" not in load_test_help.stdout

    refused = run_script("benchmark.py", "--batch-size", "0", "--output", str(tmp_path / "b.json"))
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "kerasbert benchmark: error: --batch-size must be a positive integer."
    )
    missing = run_script("load_test.py", "--texts", str(tmp_path / "texts.txt"))
    assert missing.returncode == 2
    assert missing.stderr.strip().startswith("kerasbert benchmark: error: Give the export")
    assert list(tmp_path.iterdir()) == []


def test_markdown_names_the_command_with_the_flags_given():
    """benchmark.md is headed by the command that made it: the flags as given, in their order,
    quoted for a shell."""
    from kerasbert.benchmark.cli import command_line

    given = {"quick": True, "data": ("my data.csv", "bbc-news"), "max_length": 64}
    assert command_line(given) == (
        "python scripts/benchmark.py --quick --data 'my data.csv' --data bbc-news --max-length 64"
    )


@pytest.mark.slow  # the whole benchmark, twice, in subprocesses: minutes
def test_quick_run_writes_every_required_key(tiny_checkpoint, tiny_csv, tmp_path):
    output = tmp_path / "benchmark.json"
    data = ["--data", str(tiny_csv), "--text-column", "text", "--label-column", "label"]
    completed = run_benchmark_script(
        "--quick",
        *data,
        "--model",
        str(tiny_checkpoint),
        "--work-dir",
        str(tmp_path / "work"),
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
    # Training against the ceiling of the precision that ran, both ceilings reported.
    train = results["train"]
    precision = train["precision_ceiling"]
    assert precision["precision"] == (
        "bfloat16" if results["settings"]["precision"] == "cpu_bfloat16" else "float32"
    )
    assert train["flop_fraction_of_precision_ceiling"] == pytest.approx(
        train["flop_rate_at_128"] / precision["flop_rate_same_load"]
    )
    assert "training at 128 tokens" in completed.stdout
    assert_length_section(results["inference_by_length"], lengths=["64"])
    assert "| 64, fused_fp32 |" in markdown

    # The length section alone, on the run and export the first run kept.
    lengths_output = tmp_path / "lengths.json"
    again = run_benchmark_script(
        "--quick",
        "--only",
        "lengths",
        *data,
        "--batch-size",
        "4",
        "--model",
        str(tiny_checkpoint),
        "--work-dir",
        str(tmp_path / "work"),
        "--skip-tf2onnx",
        "--output",
        str(lengths_output),
    )
    assert again.returncode == 0, again.stderr[-3000:]
    only = json.loads(lengths_output.read_text())
    assert "train" not in only and "inference" not in only
    assert_length_section(only["inference_by_length"], lengths=["64"], tf2onnx=False)
    assert only["inference_by_length"]["batch"] == 4


def assert_length_section(section: dict, lengths: list[str], tf2onnx: bool = True) -> None:
    """Every engine timed at every length, with FLOP rates against the same rounds' ceiling."""
    engines = ["tf", "fused_fp32", "plain_fp32", "fused_int8", "plain_int8"]
    if tf2onnx:
        engines.insert(3, "tf2onnx_fp32")
        engines.append("tf2onnx_int8")
    assert section["engines"] == engines
    # Real headlines padded per batch, every engine in turn (`kerasbert.benchmark.headlines`).
    headlines = section["headlines"]
    assert set(headlines["texts_per_s"]) == set(engines)
    assert all(headlines["batch1_p50_ms"][engine] > 0 for engine in engines)
    assert ("fused_vs_tf2onnx_int8" in headlines["ratios"]) == tf2onnx
    assert 3 < headlines["mean_tokens_per_text"] < 40
    assert list(section["lengths"]) == lengths  # the tiny model's 64 positions cap 128
    for figures in section["lengths"].values():
        ceiling = figures["matmul_ceiling_same_rounds"]["flop_rate"]
        # The faster of TensorFlow's and onnxruntime's float32 matmul, both timed in turn.
        by_engine = figures["matmul_ceiling_same_rounds"]["flop_rate_by_engine"]
        assert set(by_engine) == {"tensorflow", "onnxruntime"} and min(by_engine.values()) > 0
        assert ceiling == max(by_engine.values())
        for engine in engines:
            batched = figures["batched"][engine]
            assert batched["texts_per_s"] > 0 and figures["batch1_p50_ms"][engine] > 0
            assert batched["fraction_of_matmul_ceiling"] == pytest.approx(
                batched["gflops_per_s"] * 1e9 / ceiling
            )
            for kind in ("random", "headlines", "paragraphs", "articles"):
                assert figures["by_text_kind"][kind][engine]["texts_per_s"] > 0
        # Every engine computes the same logits: float32 graphs to round-off.
        differences = figures["max_abs_logit_diff_vs_tf"]
        assert all(differences[engine] < 1e-3 for engine in engines if "fp32" in engine)
        ratios = figures["ratios"]
        assert {"fused_vs_plain_fp32", "fused_vs_plain_int8"} <= set(ratios)
        assert ("fused_vs_tf2onnx_fp32" in ratios) == tf2onnx
        assert figures["batch1_p50_ratios"]["fused_vs_plain_fp32"]["median"] > 0
