"""Training speed from the step records: throughput, padding efficiency, the step cost fit.

Each training step of the lockstep (`kerasbert.benchmark.training`) leaves a record: seconds,
examples, real and processed tokens, FLOPs. `training_figures` turns every seed's records and
test accuracies into one data set's figures in `benchmark.json`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from kerasbert.benchmark.config import MODES, SHORT_TEXT_LENGTH, BenchmarkConfig
from kerasbert.benchmark.matmul import CEILING_SIZE
from kerasbert.training.pipeline import Encoded

logger = logging.getLogger(__name__)

# The first step of a run traces the train step, which takes as long as many steps; it is timed
# separately and left out of the throughput. One trace covers every batch shape: the datasets'
# shapes are (None, None) and the step function is traced for exactly that signature.
WARMUP_BATCHES = 1


def speed_summary(
    records: Sequence[dict[str, float]], skip: int = WARMUP_BATCHES
) -> dict[str, float]:
    """Throughput over the timed batches: each record has seconds, examples, real/processed tokens
    and flops of one training step, in training order; the first `skip` are warm-up."""
    timed = list(records[skip:]) or list(records)
    seconds = sum(record["seconds"] for record in timed)
    total = {
        key: sum(record[key] for record in timed)
        for key in ("examples", "real", "processed", "flops")
    }
    all_real = sum(record["real"] for record in records)
    all_processed = sum(record["processed"] for record in records)
    return {
        "examples_per_s": total["examples"] / seconds,
        "tokens_per_s": total["real"] / seconds,
        "processed_tokens_per_s": total["processed"] / seconds,
        "padding_efficiency": all_real / all_processed if all_processed else 1.0,
        "flop_rate": total["flops"] / seconds,
        "timed_batches": len(timed),
        "timed_seconds": seconds,
        "warmup_seconds": sum(record["seconds"] for record in records[: len(records) - len(timed)]),
    }


def step_cost_fit(records: Sequence[dict[str, float]]) -> dict[str, float] | None:
    """Least-squares fit of step time = per-step cost + cost per processed token, over steps of
    different padded sizes. The per-step part (optimizer update of every weight, clipping, weight
    decay, dispatch) does not shrink with padding, so it caps what fewer tokens can gain."""
    if len({record["processed"] for record in records}) < 2:
        return None
    tokens = np.array([record["processed"] for record in records], dtype=float)
    seconds = np.array([record["seconds"] for record in records], dtype=float)
    slope, intercept = np.polyfit(tokens, seconds, 1)
    predicted = intercept + slope * tokens
    total = ((seconds - seconds.mean()) ** 2).sum()
    return {
        "per_step_ms": 1000 * float(intercept),
        "per_1k_tokens_ms": 1e6 * float(slope),
        "r_squared": float(1 - ((seconds - predicted) ** 2).sum() / total) if total else 1.0,
        "steps": len(records),
    }


def summarize_mode(
    runs: list[dict[str, Any]], encoded_train: Encoded, config: BenchmarkConfig
) -> dict[str, Any]:
    """One mode's figures over its runs (one per seed): speed from every timed step of every
    run, accuracy as the mean over seeds with each seed's value."""
    records = [record for run in runs for record in run["records"][WARMUP_BATCHES:]]
    warmups = [record for run in runs for record in run["records"][:WARMUP_BATCHES]]
    accuracies = [run["accuracy"] for run in runs]
    return {
        **speed_summary(warmups + records, skip=len(warmups)),
        "accuracy": float(np.mean(accuracies)),
        "accuracy_per_seed": accuracies,
        "steps": sum(len(run["records"]) for run in runs),
        "examples": len(encoded_train),
        "epochs": config.epochs,
        "max_length": encoded_train.max_length,
    }


def ceiling_rate(ceiling: Sequence[dict[str, float]], seconds: str) -> dict[str, Any]:
    """The FLOP rate of the ceiling matmul over every round's call (`seconds`: which timing)."""
    return {
        "size": CEILING_SIZE,
        "flop_rate": sum(record["flops"] for record in ceiling)
        / sum(record[seconds] for record in ceiling),
        "calls": len(ceiling),
    }


def training_figures(
    per_seed: list[dict[str, dict[str, Any]]],
    ceiling: list[dict[str, float]],
    encoded_train: Encoded,
    encoded_test: Encoded,
    config: BenchmarkConfig,
) -> dict[str, Any]:
    """One data set's figures (what `benchmark.json` holds under `train.<data set>`) from every
    seed's step records and test accuracies, and the ceiling matmul's timings of the same rounds."""
    figures: dict[str, Any] = {}
    for mode in MODES:
        figures[mode] = summarize_mode([runs[mode] for runs in per_seed], encoded_train, config)
        logger.info(
            "%s: %.1f examples/s, %.0f real tokens/s, padding efficiency %.3f, accuracy %.4f",
            mode,
            figures[mode]["examples_per_s"],
            figures[mode]["tokens_per_s"],
            figures[mode]["padding_efficiency"],
            figures[mode]["accuracy"],
        )
    fixed, longest, bucketed = (figures[mode] for mode in MODES)
    figures["speedup"] = {
        "bucketed_vs_longest": bucketed["examples_per_s"] / longest["examples_per_s"],
        "bucketed_vs_fixed": bucketed["examples_per_s"] / fixed["examples_per_s"],
        "efficiency_gain_vs_longest": bucketed["padding_efficiency"]
        / longest["padding_efficiency"],
    }
    figures["matmul_ceiling_same_rounds"] = ceiling_rate(ceiling, "seconds")
    if ceiling and all("bfloat16_seconds" in record for record in ceiling):
        figures["bfloat16_matmul_ceiling_same_rounds"] = ceiling_rate(ceiling, "bfloat16_seconds")
    # A straight line fits steps up to 128 tokens; at 512, attention's cost grows with the square
    # of the length and the line's intercept means nothing.
    if encoded_train.max_length <= SHORT_TEXT_LENGTH:
        figures["step_cost"] = step_cost_fit(
            [
                record
                for runs in per_seed
                for mode in ("longest", "bucketed")
                for record in runs[mode]["records"][WARMUP_BATCHES:]
            ]
        )
    lengths = encoded_train.lengths
    figures["data"] = {
        "train_examples": len(encoded_train),
        "test_examples": len(encoded_test),
        "max_length": encoded_train.max_length,
        "token_length_p50": float(np.percentile(lengths, 50)),
        "token_length_p95": float(np.percentile(lengths, 95)),
    }
    return figures
