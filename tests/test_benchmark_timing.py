"""Tests for `kerasbert.benchmark.timing`: turns and medians."""

from __future__ import annotations

import pytest

from kerasbert.benchmark.timing import (
    median_paired_speedup,
    median_pass,
    paired_speedups,
    pass_seconds,
    time_in_turn,
)


def test_throughput_comes_from_the_median_pass():
    # Two texts per pass, three passes; the second caught a slow spell of the machine.
    seconds = [0.1, 0.2, 1.0, 2.0, 0.2, 0.2]
    assert pass_seconds(seconds, 3) == pytest.approx([0.3, 3.0, 0.4])
    assert median_pass(seconds, 3) == pytest.approx(0.4)


def test_functions_take_turns_pass_by_pass_in_a_rotating_order():
    order = []
    functions = {name: (lambda value, name=name: order.append((name, value))) for name in "abc"}
    seconds = time_in_turn(functions, [1, 2], rounds=3)
    passes = [[(n, 1), (n, 2)] for n in "abc" + "bca" + "cab"]  # whole passes, rotating
    assert order == [call for one_pass in passes for call in one_pass]
    assert {name: len(values) for name, values in seconds.items()} == {"a": 6, "b": 6, "c": 6}


def test_paired_ratios_cancel_the_machines_swings():
    # Five rounds; in rounds 2 and 4 the machine ran at a third of its speed. The engine is
    # twice as fast as its baseline in every round but the last, where it alone met a hiccup.
    load = [1, 3, 1, 3, 1]
    engine = [1.0 * factor for factor in load[:-1]] + [3.0]
    baseline = [2.0 * factor for factor in load]
    assert paired_speedups(engine, baseline) == pytest.approx([2, 2, 2, 2, 2 / 3])
    ratio = median_paired_speedup(engine, baseline)
    assert ratio["median"] == pytest.approx(2.0)
    assert ratio["pairs"] == [2.0, 2.0, 2.0, 2.0, 0.667]
    with pytest.raises(ValueError, match="equal lengths"):
        paired_speedups([1.0], [1.0, 2.0])
