"""Which tokens of a too-long text (or text pair) survive truncation, for training and predictor alike.

Training (`kerasbert.training.pipeline`, transformers' tokenizer) and the exported predictor
(`kerasbert.inference.predictor`, the `tokenizers` library) both encode a text in full, special tokens
included, and keep the positions `kept_positions` names. One rule in one place, free of any
tokenizer library, so the two sides cannot drift apart: not even when a `tokenizers` release
changes how its own truncation splits a pair (0.13 moved the odd token from the first text to the
longer one).

- A text pair is cut "longest first", as the tokenizers' `longest_first` strategy cuts it: the
  shorter text stays whole if the longer one can make room, else both get half the room.
- The truncation mode then picks which of its share of tokens each text keeps: `head` the first
  (news and reviews state their topic first), `tail` the last, `head_tail` the first quarter and
  the last three quarters of its share (Sun et al., 2019, "How to Fine-Tune BERT for Text
  Classification?": 128 head + 382 tail tokens of 510 beat head-only and tail-only on long
  documents).
"""

from __future__ import annotations

from collections.abc import Sequence

from kerasbert.common.errors import InputError

TRUNCATIONS = ("head", "tail", "head_tail")
# Sun et al.'s split of BERT's 510 text tokens: 128 from the start, 382 from the end. Shorter
# budgets keep the same proportion.
HEAD_TOKENS, HEAD_TAIL_BUDGET = 128, 510


def check_truncation(mode: str) -> str:
    """`mode` if it is a truncation mode, else an `InputError` naming the choices."""
    if mode not in TRUNCATIONS:
        raise InputError(f"truncation must be one of {', '.join(TRUNCATIONS)}; got {mode!r}.")
    return mode


def pair_budgets(first: int, second: int, room: int) -> tuple[int, int]:
    """Tokens the first and second text keep when together they may have `room` tokens.

    The `longest_first` rule of `tokenizers` (>= 0.13): nothing is cut when both fit; else the
    shorter text stays whole when the longer one can shrink to at least its length; else each
    gets half of `room`, the longer one (the second on a tie) the odd token.

    >>> pair_budgets(10, 100, 50)
    (10, 40)
    >>> pair_budgets(30, 40, 51)
    (25, 26)
    """
    room = max(room, 0)
    if first + second <= room:
        return first, second
    shorter, longer = sorted((first, second))
    shorter_keep = shorter
    longer_keep = shorter if shorter > room else max(shorter, room - shorter)
    if shorter_keep + longer_keep > room:
        shorter_keep = room // 2
        longer_keep = shorter_keep + room % 2
    return (shorter_keep, longer_keep) if first <= second else (longer_keep, shorter_keep)


def head_tail_split(keep: int) -> tuple[int, int]:
    """How many of `keep` tokens `head_tail` takes from the start and from the end."""
    head = round(keep * HEAD_TOKENS / HEAD_TAIL_BUDGET)
    return head, keep - head


def select(positions: Sequence[int], keep: int, mode: str) -> list[int]:
    """`keep` of `positions` (one text's tokens, in order) chosen as truncation `mode` says."""
    positions = list(positions)
    if keep >= len(positions):
        return positions
    if keep <= 0:
        return []
    if mode == "head":
        return positions[:keep]
    if mode == "tail":
        return positions[len(positions) - keep :]
    head, tail = head_tail_split(keep)
    return positions[:head] + positions[len(positions) - tail :]


def kept_positions(
    sequence_ids: Sequence[int | None], max_length: int, mode: str = "head"
) -> list[int]:
    """Positions of a full encoding that survive truncation to `max_length` tokens, in order.

    Args:
        sequence_ids: per token of the untruncated encoding (special tokens included), None for
            a special token, 0 for a token of the first text, 1 for one of the second text (the
            encodings' `sequence_ids` in both `tokenizers` and transformers).
        max_length: tokens allowed, special tokens included.
        mode: `head`, `tail` or `head_tail` (see the module docstring).

    Special tokens always stay; `head` gives exactly what the tokenizers' own truncation gives.

    >>> kept_positions([None, 0, 0, 0, 0, None], 4, "tail")
    [0, 3, 4, 5]
    """
    if len(sequence_ids) <= max_length:
        return list(range(len(sequence_ids)))
    check_truncation(mode)
    first = [position for position, sequence in enumerate(sequence_ids) if sequence == 0]
    second = [position for position, sequence in enumerate(sequence_ids) if sequence == 1]
    specials = [position for position, sequence in enumerate(sequence_ids) if sequence is None]
    room = max_length - len(specials)
    if second:
        first_keep, second_keep = pair_budgets(len(first), len(second), room)
    else:
        first_keep, second_keep = room, 0
    kept = specials + select(first, first_keep, mode) + select(second, second_keep, mode)
    return sorted(kept)
