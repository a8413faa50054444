"""Tests for `kerasbert.benchmark.lengths`: full-length rows of real text, and one length's
figures from the engines' turns (the section end to end runs in `test_benchmark_cli.py`)."""

from __future__ import annotations

import numpy as np
import pytest

from kerasbert.benchmark.lengths import (
    CEILING,
    ORT_CEILING,
    fill_rows,
    length_figures,
    text_rows,
)


@pytest.fixture(scope="module")
def tokenizer(tiny_checkpoint):
    from kerasbert.training.checkpoint import load_tokenizer

    return load_tokenizer(str(tiny_checkpoint))


def test_rows_are_filled_text_after_text_and_cut_at_the_length(tokenizer):
    texts = ["market bank", "the team win match game phone chip web", "shares"]
    rows = fill_rows(tokenizer, texts, length=8, rows=3)
    assert rows.shape == (3, 8) and rows.dtype == np.int32
    words = [tokenizer.convert_ids_to_tokens(row.tolist()) for row in rows]
    # The second text does not fit: it is cut, and the next row starts with the next text.
    assert words[0] == ["[CLS]", "market", "bank", "[SEP]", "the", "team", "win", "[SEP]"]
    # Texts run out and start again from the first.
    assert words[1] == ["[CLS]", "shares", "[SEP]", "market", "bank", "[SEP]", "the", "[SEP]"]
    assert words[2] == words[1]


def test_random_rows_use_word_pieces_only(tokenizer):
    texts = {kind: ["the market", "team win"] for kind in ("headlines", "paragraphs", "articles")}
    rows = text_rows(tokenizer, texts, length=16, rows=4, seed=1)
    assert set(rows) == {"random", "headlines", "paragraphs", "articles"}
    assert all(values.shape == (4, 16) for values in rows.values())
    inner = rows["random"][:, 1:-1]
    assert not set(inner.ravel().tolist()) & set(tokenizer.all_special_ids)
    assert (rows["random"][:, 0] == tokenizer.cls_token_id).all()
    np.testing.assert_array_equal(
        rows["random"], text_rows(tokenizer, texts, length=16, rows=4, seed=1)["random"]
    )


def test_length_figures_from_the_turns():
    # Three rounds over two kinds of text (round after round, kind after kind); round 3 met a
    # slow spell. plain takes twice fused's time in every pair.
    fused = [1.0, 2.0, 1.0, 2.0, 10.0, 20.0]
    batch_seconds = {
        "fused_fp32": fused,
        "plain_fp32": [2 * value for value in fused],
        CEILING: [0.01, 0.01, 0.01, 0.01, 0.05, 0.05],  # its median call: 0.01 s
    }
    single_seconds = {
        "fused_fp32": [0.001, 0.003, 0.001, 0.001, 0.005, 0.005],
        "plain_fp32": [0.002, 0.006, 0.003, 0.003, 0.005, 0.005],
    }

    def figures_of(batches: dict) -> dict:
        return length_figures(
            batches,
            single_seconds,
            kinds=["random", "articles"],
            rounds=3,
            batch=4,
            flops_per_text=1e9,
            ceiling_flops=2e9,
        )

    figures = figures_of(batch_seconds)
    ceiling = figures["matmul_ceiling_same_rounds"]
    assert ceiling["flop_rate"] == pytest.approx(2e11) and ceiling["calls"] == 6
    # With onnxruntime's matmul timed too, the faster of the two is the ceiling.
    faster = figures_of({**batch_seconds, ORT_CEILING: [0.005] * 6})
    assert faster["matmul_ceiling_same_rounds"]["flop_rate"] == pytest.approx(4e11)
    assert faster["matmul_ceiling_same_rounds"]["flop_rate_by_engine"] == pytest.approx(
        {"tensorflow": 2e11, "onnxruntime": 4e11}
    )
    assert ORT_CEILING not in faster["batched"]
    assert faster["batched"]["fused_fp32"]["fraction_of_matmul_ceiling"] == pytest.approx(
        2e9 / 4e11
    )
    fused_figures = figures["batched"]["fused_fp32"]
    # Pooled over kinds: the median of all six passes is 2 s for 4 texts of 1 GFLOP each.
    assert fused_figures["texts_per_s"] == pytest.approx(2.0)
    assert fused_figures["gflops_per_s"] == pytest.approx(2.0)
    assert fused_figures["fraction_of_matmul_ceiling"] == pytest.approx(2e9 / 2e11)
    assert figures["by_text_kind"]["random"]["fused_fp32"]["texts_per_s"] == pytest.approx(4.0)
    assert figures["by_text_kind"]["articles"]["fused_fp32"]["texts_per_s"] == pytest.approx(2.0)
    assert figures["ratios"]["fused_vs_plain_fp32"]["median"] == pytest.approx(2.0)
    assert set(figures["ratios"]) == {"fused_vs_plain_fp32"}  # only pairs both timed
    assert figures["batch1_p50_ms"]["fused_fp32"] == pytest.approx(2.0)
    # Each round's p50 against the baseline's in the same round: 2, 3 and 1 → 2.
    batch1 = figures["batch1_p50_ratios"]["fused_vs_plain_fp32"]
    assert batch1["median"] == pytest.approx(2.0)
    assert batch1["pairs"] == [2.0, 3.0, 1.0]


def test_headlines_are_padded_per_batch_on_the_right(tokenizer):
    from kerasbert.benchmark.headlines import padded_feeds

    feeds = padded_feeds(tokenizer, ["market", "the team win match game"])
    # int64, as the exported graphs take them.
    assert feeds["input_ids"].shape == (2, 7) and feeds["input_ids"].dtype == np.int64
    np.testing.assert_array_equal(feeds["attention_mask"].sum(axis=1), [3, 7])
    assert feeds["attention_mask"][0].tolist() == [1, 1, 1, 0, 0, 0, 0]  # padding on the right


def test_headline_figures_pair_each_round(tokenizer, monkeypatch):
    """Engines advance a fake clock by a cost per text: the figures are exact."""
    from kerasbert.benchmark import headlines, timing
    from kerasbert.benchmark.config import BenchmarkConfig

    clock = [0.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])

    def engine(per_text: float):
        def call(feeds):
            clock[0] += per_text * len(feeds["input_ids"])

        return call

    calls = {"fused_fp32": engine(0.001), "tf2onnx_fp32": engine(0.002), "tf": engine(0.004)}
    texts = [f"market bank shares {index}" for index in range(300)]
    config = BenchmarkConfig(batch_size=4, inference_rounds=3)
    figures = headlines.benchmark_headlines(calls, tokenizer, texts, config)
    batches = headlines.HEADLINE_BATCHES
    assert figures["texts_per_s"]["fused_fp32"] == pytest.approx(1000.0)
    assert figures["texts_per_s"]["tf"] == pytest.approx(250.0)
    assert figures["batch1_p50_ms"]["tf2onnx_fp32"] == pytest.approx(2.0)
    assert figures["ratios"]["fused_vs_tf2onnx_fp32"]["median"] == pytest.approx(2.0)
    assert figures["batch1_p50_ratios"]["fused_fp32_vs_tf"]["median"] == pytest.approx(4.0)
    assert "fused_vs_tf2onnx_int8" not in figures["ratios"]  # its engines were not timed
    assert figures["batches_per_round"] == batches and figures["rounds"] == 3
