"""Tests for `kerasbert.benchmark.matmul`: a training step's FLOPs and the step's matmuls."""

from __future__ import annotations

import pytest

from kerasbert.benchmark.matmul import (
    bert_inference_flops,
    bert_training_flops,
    measure_step_matmuls,
)


def test_training_flops_match_six_times_parameters_per_token():
    # Without attention (length term) and head, training is 6 FLOPs per matmul weight per token.
    flops = bert_training_flops(2, 1, layers=1, hidden=4, intermediate=8, labels=2)
    weights = 4 * 4 * 4 + 2 * 4 * 8
    attention = 2 * 1 * 4
    head = 4 * 4 + 4 * 2
    assert flops == 3 * 2 * (2 * (weights + attention) + 2 * head)


def test_step_matmuls_count_the_same_flops_as_the_step_formula():
    shape = dict(layers=2, hidden=8, intermediate=16, batch=2, length=4)
    matmuls = measure_step_matmuls(heads=2, **shape)
    assert matmuls["seconds"] > 0
    # The formula adds the pooler and head (per sequence); the matmuls cover the encoder only.
    head = 3 * 2 * shape["batch"] * (8 * 8 + 8 * 2)
    expected = bert_training_flops(labels=2, **shape) - head
    assert matmuls["flop_rate"] * matmuls["seconds"] == pytest.approx(expected)


def test_inference_flops_count_every_encoder_matmul_of_one_text():
    layers, hidden, intermediate, length = 2, 8, 32, 16
    projections = 4 * length * hidden * hidden  # Q, K, V, output: (L × H) · (H × H)
    feed_forward = 2 * length * hidden * intermediate  # (L × H)·(H × I) and back
    attention = 2 * length * length * hidden  # QKᵀ and the mixing, over all heads
    expected = 2 * layers * (projections + feed_forward + attention)  # 2 FLOPs a multiply-add
    sizes = dict(layers=layers, hidden=hidden, intermediate=intermediate)
    assert bert_inference_flops(length, **sizes) == expected
    # MiniLM-L6 at 512 tokens, the figure the length section's GFLOP/s rest on.
    minilm = bert_inference_flops(512, layers=6, hidden=384, intermediate=1536)
    assert minilm == pytest.approx(13.29e9, rel=1e-3)
    # A training step is three forward passes of every text, plus the per-text pooler and head.
    head = 2 * 3 * (hidden * hidden + hidden * 2)
    training = bert_training_flops(3, length, labels=2, **sizes)
    assert training == pytest.approx(3 * (3 * bert_inference_flops(length, **sizes)) + 3 * head)
