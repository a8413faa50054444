"""Tests for `kerasbert.common.truncation`: the one rule training and the predictor cut texts by."""

from __future__ import annotations

import itertools

import pytest

from kerasbert.common.errors import InputError
from kerasbert.common.truncation import head_tail_split, kept_positions, pair_budgets


def test_head_tail_is_sun_et_al_split_scaled_to_the_budget() -> None:
    assert head_tail_split(510) == (128, 382)
    assert head_tail_split(126) == (32, 94)
    assert head_tail_split(1) == (0, 1)


def test_pair_budgets_cut_the_longer_text_first() -> None:
    for first, second, room in itertools.product(range(12), range(12), range(13)):
        kept = pair_budgets(first, second, room)
        assert kept[0] <= first and kept[1] <= second
        assert sum(kept) == min(first + second, room)
        if first + second > room and min(first, second) <= room // 2:
            assert min(first, second) in kept  # the short text stays whole
    assert pair_budgets(30, 40, 51) == (25, 26)  # both cut: the longer keeps the odd token
    assert pair_budgets(40, 40, 51) == (25, 26)  # a tie: the second does


def test_kept_positions_keep_special_tokens_and_each_texts_share() -> None:
    # [CLS] a0..a5 [SEP] b0..b1 [SEP]: 11 tokens into 8.
    sequence_ids = [None, *[0] * 6, None, 1, 1, None]
    assert kept_positions(sequence_ids, 8) == [0, 1, 2, 3, 7, 8, 9, 10]
    assert kept_positions(sequence_ids, 8, "tail") == [0, 4, 5, 6, 7, 8, 9, 10]
    assert kept_positions(sequence_ids, 11, "tail") == list(range(11))
    single = [None, *[0] * 10, None]
    assert kept_positions(single, 6, "head_tail") == [0, 1, 8, 9, 10, 11]
    with pytest.raises(InputError, match="head, tail, head_tail"):
        kept_positions(single, 6, "middle")
