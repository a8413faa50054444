"""Inference on short real texts as the predictor meets them: BBC headlines in batches padded to
their longest, and one at a time, every engine of `kerasbert.benchmark.lengths` taking turns.

Full-length rows (`lengths`) show what each graph's arithmetic costs; a headline is about a dozen
word pieces, so here per-call overhead and padding set the speed instead. The tf2onnx engines are
the graph kerasbert exported before it wrote the fused graph from the weights (tf2onnx with
kerasbert's rewrites), so `fused_vs_tf2onnx_*` says whether short texts lost anything to the
change: at least 1.0 means nothing is slower.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kerasbert.benchmark.config import BenchmarkConfig
from kerasbert.benchmark.timing import (
    paired_ratios,
    pass_seconds,
    percentile_ms,
    round_medians,
    time_in_turn,
)

logger = logging.getLogger(__name__)

# Batches of `config.batch_size` headlines per round, and single headlines per round.
HEADLINE_BATCHES = 8
HEADLINE_SINGLES = 32
# The default job's max length: headlines never reach it.
HEADLINE_MAX_LENGTH = 128
# name → (engine, baseline engine), each judged as engine's speed over the baseline's.
HEADLINE_RATIOS = {
    "fused_vs_tf2onnx_fp32": ("fused_fp32", "tf2onnx_fp32"),
    "fused_vs_tf2onnx_int8": ("fused_int8", "tf2onnx_int8"),
    "fused_vs_plain_fp32": ("fused_fp32", "plain_fp32"),
    "fused_fp32_vs_tf": ("fused_fp32", "tf"),
}


def benchmark_headlines(
    calls: dict[str, Callable[[dict[str, np.ndarray]], np.ndarray]],
    tokenizer: Any,
    headlines: Sequence[str],
    config: BenchmarkConfig,
) -> dict[str, Any]:
    """The `headlines` figures of `inference_by_length`: per engine, texts/s over batches of
    headlines padded to each batch's longest, batch-1 p50/p95 latency, and the paired ratios of
    `HEADLINE_RATIOS` (each pair of passes timed in the same round)."""
    batch = config.batch_size
    batches = [
        padded_feeds(tokenizer, headlines[index * batch : (index + 1) * batch])
        for index in range(HEADLINE_BATCHES)
    ]
    rest = headlines[HEADLINE_BATCHES * batch :]
    singles = [padded_feeds(tokenizer, [text]) for text in rest[:HEADLINE_SINGLES]]
    for call in calls.values():  # the first call at a shape allocates and packs weights
        call(batches[0])
        call(singles[0])
    logger.info("Headlines: %s taking turns ...", ", ".join(calls))
    rounds = config.inference_rounds
    batch_seconds = time_in_turn(calls, batches, rounds=rounds)
    single_seconds = time_in_turn(calls, singles, rounds=rounds)
    # A round's pass over its batches (or singles) is one paired sample.
    passes = {name: pass_seconds(values, rounds) for name, values in batch_seconds.items()}
    single_p50 = {name: round_medians(values, rounds) for name, values in single_seconds.items()}
    tokens = [int(feeds["attention_mask"].sum()) for feeds in batches]
    figures = {
        "batch": batch,
        "batches_per_round": len(batches),
        "singles_per_round": len(singles),
        "rounds": rounds,
        "mean_tokens_per_text": sum(tokens) / (batch * len(batches)),
        "padded_length_per_batch": [int(feeds["input_ids"].shape[1]) for feeds in batches],
        "texts_per_s": {
            name: batch * len(batches) / float(np.median(values)) for name, values in passes.items()
        },
        "batch1_p50_ms": {name: percentile_ms(v, 50) for name, v in single_seconds.items()},
        "batch1_p95_ms": {name: percentile_ms(v, 95) for name, v in single_seconds.items()},
        "ratios": paired_ratios(passes, HEADLINE_RATIOS),
        "batch1_p50_ratios": paired_ratios(single_p50, HEADLINE_RATIOS),
    }
    for name, ratio in figures["ratios"].items():
        logger.info(
            "Headlines, %s: %.2f batched, %.2f batch-1 p50",
            name,
            ratio["median"],
            figures["batch1_p50_ratios"][name]["median"],
        )
    return figures


def padded_feeds(tokenizer: Any, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Model inputs for `texts` padded on the right to the longest, as the predictor pads, in
    int64 as the exported graphs take them."""
    encoded = tokenizer(
        list(texts),
        padding="longest",
        truncation=True,
        max_length=HEADLINE_MAX_LENGTH,
        return_tensors="np",
    )
    return {
        name: np.asarray(encoded[name], np.int64)
        for name in ("input_ids", "attention_mask", "token_type_ids")
    }
