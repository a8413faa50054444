"""Timing on a shared machine: the things compared take turns, and medians set the figures.

A shared VM's speed changes for minutes at a time. Timed one after the other, two engines (or
two training modes) meet different loads and their ratio says more about the machine than about
them; taking turns pass by pass, every one of them meets the same load.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def time_in_turn(
    functions: dict[str, Callable[[Any], Any]], inputs: Sequence[Any], rounds: int = 1
) -> dict[str, list[float]]:
    """Seconds of each function on each input, over `rounds` rounds.

    The functions take turns pass by pass (one runs over every input, then the next), in an order
    that rotates each round, so all of them meet the same machine load. Whole passes rather than
    single calls: onnxruntime's worker threads keep spinning for a moment after each call, so
    calls interleaved one by one would each pay for the previous engine's threads.
    """
    names = list(functions)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            for value in inputs:
                start = time.perf_counter()
                functions[name](value)
                seconds[name].append(time.perf_counter() - start)
    return seconds


def pass_seconds(seconds: Sequence[float], rounds: int) -> list[float]:
    """Each round's total from `time_in_turn`'s per-input seconds (round after round)."""
    return [float(total) for total in np.reshape(seconds, (rounds, -1)).sum(axis=1)]


def median_pass(seconds: Sequence[float], rounds: int) -> float:
    """The median round's seconds: one pass caught in a slow spell of the machine does not set
    an engine's throughput."""
    return float(np.median(pass_seconds(seconds, rounds)))


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    """The `q`-th percentile of `seconds`, in milliseconds."""
    return float(np.percentile(np.asarray(seconds) * 1000.0, q))


def paired_speedups(seconds: Sequence[float], baseline_seconds: Sequence[float]) -> list[float]:
    """How many times as fast as the baseline each timing is: baseline ÷ seconds, pair by pair.

    The two lists come from `time_in_turn`, so their n-th entries ran in the same round, close in
    time: a slow spell of the machine slows both and cancels out of their ratio, where it would
    not cancel out of a ratio of two medians taken over different moments.
    """
    if len(seconds) != len(baseline_seconds):
        raise ValueError(
            f"Paired timings need equal lengths; got {len(seconds)} and {len(baseline_seconds)}."
        )
    return [float(base / own) for own, base in zip(seconds, baseline_seconds)]


def median_paired_speedup(
    seconds: Sequence[float], baseline_seconds: Sequence[float]
) -> dict[str, Any]:
    """The median of `paired_speedups`, with every pair's ratio (3 decimals) beside it."""
    ratios = paired_speedups(seconds, baseline_seconds)
    return {"median": float(np.median(ratios)), "pairs": [round(ratio, 3) for ratio in ratios]}


def round_medians(seconds: Sequence[float], rounds: int) -> list[float]:
    """Each round's median from `time_in_turn`'s per-input seconds (round after round): a round's
    typical call, to pair with another engine's in the same round."""
    return [float(value) for value in np.median(np.reshape(seconds, (rounds, -1)), axis=1)]


def paired_ratios(
    seconds: dict[str, Sequence[float]], pairs: dict[str, tuple[str, str]]
) -> dict[str, dict[str, Any]]:
    """`median_paired_speedup` of each `pairs` entry (name → (engine, baseline)) whose two
    engines were both timed in `seconds`."""
    return {
        name: median_paired_speedup(seconds[engine], seconds[baseline])
        for name, (engine, baseline) in pairs.items()
        if engine in seconds and baseline in seconds
    }
