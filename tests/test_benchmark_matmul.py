"""Tests for `kerasbert.benchmark.matmul`: a training step's FLOPs and the step's matmuls."""

from __future__ import annotations

import pytest

from kerasbert.benchmark.matmul import bert_training_flops, measure_step_matmuls


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
