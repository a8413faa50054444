"""Tests for `kerasbert.benchmark`: the figures' arithmetic, and `--quick` end to end on a tiny
checkpoint (it proves the run works and writes every key; timings are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import VOCAB, save_tiny_bert, tiny_texts

from kerasbert.benchmark import (
    BenchmarkConfig,
    bert_training_flops,
    evaluate_targets,
    measure_step_matmuls,
    median_pass,
    pass_seconds,
    speed_summary,
    train_modes_in_lockstep,
)
from kerasbert.errors import InputError

ROOT = Path(__file__).resolve().parent.parent


def test_training_flops_match_six_times_parameters_per_token():
    # Without attention (length term) and head, training is 6 FLOPs per matmul weight per token.
    flops = bert_training_flops(2, 1, layers=1, hidden=4, intermediate=8, labels=2)
    weights = 4 * 4 * 4 + 2 * 4 * 8
    attention = 2 * 1 * 4
    head = 4 * 4 + 4 * 2
    assert flops == 3 * 2 * (2 * (weights + attention) + 2 * head)


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


def test_step_matmuls_count_the_same_flops_as_the_step_formula():
    shape = dict(layers=2, hidden=8, intermediate=16, batch=2, length=4)
    matmuls = measure_step_matmuls(heads=2, **shape)
    assert matmuls["seconds"] > 0
    # The formula adds the pooler and head (per sequence); the matmuls cover the encoder only.
    head = 3 * 2 * shape["batch"] * (8 * 8 + 8 * 2)
    expected = bert_training_flops(labels=2, **shape) - head
    assert matmuls["flop_rate"] * matmuls["seconds"] == pytest.approx(expected)


def test_quick_keeps_only_headlines_unless_data_is_given():
    assert BenchmarkConfig(quick=True).resolved().data == ("bbc-headlines",)
    assert BenchmarkConfig(quick=True, data=("x.csv",)).resolved().data == ("x.csv",)
    assert BenchmarkConfig().resolved().epochs == 2


def test_bad_settings_raise_input_error():
    with pytest.raises(InputError, match="--batch-size"):
        BenchmarkConfig(batch_size=0).resolved().validate()
    with pytest.raises(InputError, match="--precision"):
        BenchmarkConfig(precision="fp8").resolved().validate()


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


def train_tiny_lockstep(model_path: str, rows, max_length: int, config, seed: int):
    """`train_modes_in_lockstep` on `rows` (text, label), trained and scored on the same texts;
    returns the runs, the ceiling timings and the labels."""
    from kerasbert import checkpoint, pipeline

    labels = sorted({label for _, label in rows})
    tokenizer = checkpoint.load_tokenizer(model_path)
    encoded = pipeline.encode(tokenizer, [text for text, _ in rows], max_length)
    label_ids = np.array([labels.index(label) for _, label in rows])
    features = np.zeros((len(rows), 16), np.float32)
    runs, ceiling = train_modes_in_lockstep(
        model_path, labels, encoded, label_ids, encoded, label_ids, config, features, seed=seed
    )
    return runs, ceiling, labels


def test_lockstep_modes_differ_only_in_padding(tmp_path):
    """Without dropout, fixed padding and per-batch-longest padding train the same batches to the
    same weights; bucketing trains different batches. Every mode takes every step."""
    model_path = str(
        save_tiny_bert(tmp_path, VOCAB, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    )
    rows = tiny_texts(12, seed=1)
    config = BenchmarkConfig(batch_size=8, epochs=2, learning_rate=1e-3).resolved()
    runs, ceiling, _ = train_tiny_lockstep(model_path, rows, 48, config, seed=3)
    assert len(ceiling) == 2 * -(-len(rows) // 8) and all(r["seconds"] > 0 for r in ceiling)
    steps = 2 * -(-len(rows) // 8)
    assert {mode: len(run["records"]) for mode, run in runs.items()} == dict.fromkeys(runs, steps)
    fixed, longest = (runs[mode] for mode in ("fixed", "longest"))
    assert all(record["processed"] == record["examples"] * 48 for record in fixed["records"])
    assert [r["real"] for r in fixed["records"]] == [r["real"] for r in longest["records"]]
    weights = [run["model"].get_weights() for run in (fixed, longest, runs["bucketed"])]
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(weights[0], weights[1]))
    assert not all(np.allclose(a, b, atol=1e-5) for a, b in zip(weights[1], weights[2]))


def test_freeze_embeddings_trains_every_mode_with_the_embeddings_fixed(tmp_path):
    from kerasbert.model import build_classifier

    model_path = str(save_tiny_bert(tmp_path, VOCAB))
    config = BenchmarkConfig(
        batch_size=8, epochs=1, learning_rate=1e-2, freeze_embeddings=True
    ).resolved()
    runs, _, labels = train_tiny_lockstep(model_path, tiny_texts(8, seed=2), 32, config, seed=1)
    pretrained = build_classifier(model_path, labels).bert
    for run in runs.values():
        bert = run["model"].bert
        assert not bert.embeddings.trainable
        for before, after in zip(pretrained.embeddings.weights, bert.embeddings.weights):
            np.testing.assert_array_equal(before.numpy(), after.numpy())
        moved = bert.encoder.weights[0].numpy() - pretrained.encoder.weights[0].numpy()
        assert np.abs(moved).max() > 0


def test_throughput_comes_from_the_median_pass():
    # Two texts per pass, three passes; the second caught a slow spell of the machine.
    seconds = [0.1, 0.2, 1.0, 2.0, 0.2, 0.2]
    assert pass_seconds(seconds, 3) == pytest.approx([0.3, 3.0, 0.4])
    assert median_pass(seconds, 3) == pytest.approx(0.4)


def test_functions_take_turns_pass_by_pass_in_a_rotating_order():
    from kerasbert.benchmark import time_in_turn

    order = []
    functions = {name: (lambda value, name=name: order.append((name, value))) for name in "abc"}
    seconds = time_in_turn(functions, [1, 2], rounds=3)
    passes = [[(n, 1), (n, 2)] for n in "abc" + "bca" + "cab"]  # whole passes, rotating
    assert order == [call for one_pass in passes for call in one_pass]
    assert {name: len(values) for name, values in seconds.items()} == {"a": 6, "b": 6, "c": 6}


def test_step_cost_fit_separates_per_step_and_per_token_cost():
    from kerasbert.benchmark import step_cost_fit

    records = [{"processed": tokens, "seconds": 0.2 + tokens * 5e-4} for tokens in (320, 640, 960)]
    fit = step_cost_fit(records)
    assert fit["per_step_ms"] == pytest.approx(200)
    assert fit["per_1k_tokens_ms"] == pytest.approx(500)
    assert fit["r_squared"] == pytest.approx(1.0)
    assert step_cost_fit(records[:1]) is None  # one shape: nothing to separate


def test_op_category_sorts_bert_step_ops():
    """Op names as TensorFlow's profiler reports them for a train step of
    TFBertForSequenceClassification, forward and backward."""
    from kerasbert.benchmark import op_category

    layer = "tf_bert_for_sequence_classification/bert/encoder/layer_._2"
    cases = {
        ("AdamW/ResourceApplyAdam_32", "ResourceApplyAdam"): "optimizer",
        ("AdamW/mul_106", "Mul"): "optimizer",
        (f"{layer}/intermediate/dense/Tensordot/MatMul", "_MklMatMul"): "matmul",
        (f"gradient_tape/{layer}/output/dense/Tensordot/MatMul/MatMul_1", "_MklMatMul"): "matmul",
        (f"{layer}/attention/self/MatMul", "_MklBatchMatMulV2"): "matmul",
        (
            f"{layer}/attention/self/dropout_7/dropout/random_uniform/RandomUniform",
            "RandomUniform",
        ): "dropout",
        (f"gradient_tape/{layer}/output/dropout_9/dropout/SelectV2", "SelectV2"): "dropout",
        (f"{layer}/attention/self/Softmax", "_MklSoftmax"): "attention",
        (f"{layer}/intermediate/Erfc", "Erfc"): "feed_forward",
        (f"{layer}/attention/output/LayerNorm/batchnorm/mul_2", "Mul"): "layer_norm",
        ("tf_bert_for_sequence_classification/bert/embeddings/Gather", "ResourceGather"): "other",
    }
    for (name, op_type), category in cases.items():
        assert op_category(name, op_type, "AdamW") == category, name
